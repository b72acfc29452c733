//go:build !(unix && !aix) && !windows

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// tryLock: no file locks here, so no safe edits; edit the file by hand.
func tryLock(*os.File) (bool, error) {
	return false, fmt.Errorf("editing phoneboot.toml is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func keepOwner(*os.File, fs.FileInfo) error { return nil }

func syncDir(string) error { return nil }
