//go:build unix

package auth

import (
	"io/fs"
	"syscall"
)

// sysID adds the device and inode, so a file replaced by rename is seen
// even when its size and mtime match the old one.
func sysID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
