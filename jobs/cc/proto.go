package cc

import (
	"os"
	"strings"
	"syscall"

	"github.com/distmesh/distmesh/jobs/wrap"
)

// OutputFile announces one output of a remote compile; its content
// follows in a message of its own.
type OutputFile struct {
	Path string `json:"path"` // as named in the arguments
	Size int64  `json:"size"`
}

// FileStamp identifies one version of a file without reading it.
type FileStamp = wrap.Stamp

func StampOf(fi os.FileInfo) FileStamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileStamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	}
	return wrap.StampOf(st)
}

// DirOf is the directory part of a name as the compiler forms it (not
// cleaned: a/../b is not b when a is a symlink).
func DirOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return name[:i]
}
