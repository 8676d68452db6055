package landlock

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Closure expands programs (and directories, kept as they are) to every
// node file needed to run them, for Spec.Install: each path with every
// symlink of its chain, a script's "#!" interpreter, and for ELF files
// the interpreter (PT_INTERP) and the DT_NEEDED libraries, recursively,
// found as the dynamic loader finds them: DT_RPATH (of the object and
// those that loaded it, unless it has DT_RUNPATH), DT_RUNPATH, the
// directories of /etc/ld.so.conf, then the standard (multiarch)
// directories; $ORIGIN is expanded. Libraries opened with dlopen(3) are
// not found: list them (or their directory) yourself. The result is
// sorted; Closure never runs the loader or ldd.
func Closure(paths ...string) ([]string, error) {
	c := closure{seen: map[string]bool{}, conf: ldSoConf("/etc/ld.so.conf", 0)}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("closure: %q is not an absolute path", p)
		}
		if err := c.add(filepath.Clean(p), nil); err != nil {
			return nil, fmt.Errorf("closure of %s: %w", p, err)
		}
	}
	out := make([]string, 0, len(c.seen))
	for p := range c.seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

type closure struct {
	seen map[string]bool
	conf []string // library directories from ld.so.conf
}

// add records p and what it needs. rpath is the DT_RPATH inherited from
// the objects that load p.
func (c *closure) add(p string, rpath []string) error {
	if c.seen[p] {
		return nil
	}
	c.seen[p] = true
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			dir, err := filepath.EvalSymlinks(filepath.Dir(p))
			if err != nil {
				return err
			}
			target = filepath.Join(dir, target)
		}
		return c.add(filepath.Clean(target), rpath)
	case fi.IsDir():
		return nil
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", p)
	}
	return c.addFile(p, rpath)
}

func (c *closure) addFile(p string, rpath []string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if interp, ok := bytes.CutPrefix(head, []byte("#!")); ok {
		line, _, _ := bytes.Cut(interp, []byte("\n"))
		if fields := strings.Fields(string(line)); len(fields) > 0 {
			return c.add(filepath.Clean(fields[0]), nil)
		}
		return nil
	}
	if !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return nil // data: headers, specs, ...
	}
	e, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("read ELF %s: %w", p, err)
	}
	for _, prog := range e.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return fmt.Errorf("read interpreter of %s: %w", p, err)
			}
			if err := c.add(filepath.Clean(string(bytes.TrimRight(b, "\x00"))), nil); err != nil {
				return err
			}
		}
	}
	needed, err := e.ImportedLibraries()
	if err != nil || len(needed) == 0 {
		return nil // static, or no dynamic section
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	origin := filepath.Dir(real)
	expand := func(tag elf.DynTag) []string {
		var dirs []string
		vals, _ := e.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
				if filepath.IsAbs(d) && !strings.Contains(d, "$") {
					dirs = append(dirs, filepath.Clean(d))
				}
			}
		}
		return dirs
	}
	var search, inherit []string
	if runpath := expand(elf.DT_RUNPATH); len(runpath) > 0 {
		search = runpath
	} else {
		inherit = append(expand(elf.DT_RPATH), rpath...)
		search = inherit
	}
	search = append(append(slices.Clone(search), c.conf...), defaultLibDirs(e)...)
	for _, lib := range needed {
		found, err := findLibrary(lib, search, e)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", p, lib, err)
		}
		if err := c.add(found, inherit); err != nil {
			return err
		}
	}
	return nil
}

// findLibrary returns the first file named lib in dirs that is an ELF
// object for the same class and machine as e.
func findLibrary(lib string, dirs []string, e *elf.File) (string, error) {
	if strings.Contains(lib, "/") {
		return filepath.Clean(lib), nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, lib)
		cand, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := cand.Class == e.Class && cand.Machine == e.Machine
		cand.Close()
		if ok {
			return p, nil
		}
	}
	return "", errors.New("not found in " + strings.Join(dirs, ":"))
}

// multiarch maps ELF machines to Debian's multiarch directory names.
var multiarch = map[elf.Machine]string{
	elf.EM_X86_64:  "x86_64-linux-gnu",
	elf.EM_AARCH64: "aarch64-linux-gnu",
	elf.EM_386:     "i386-linux-gnu",
	elf.EM_ARM:     "arm-linux-gnueabihf",
	elf.EM_RISCV:   "riscv64-linux-gnu",
	elf.EM_PPC64:   "powerpc64le-linux-gnu",
	elf.EM_S390:    "s390x-linux-gnu",
}

// defaultLibDirs are the directories the loader searches last.
func defaultLibDirs(e *elf.File) []string {
	var dirs []string
	if t, ok := multiarch[e.Machine]; ok {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if e.Class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// ldSoConf returns the directories listed in an ld.so.conf file and the
// files it includes.
func ldSoConf(path string, depth int) []string {
	f, err := os.Open(path)
	if err != nil || depth > 8 {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0 || fields[0] == "hwcap":
		case fields[0] == "include":
			for _, pattern := range fields[1:] {
				if !filepath.IsAbs(pattern) {
					pattern = filepath.Join(filepath.Dir(path), pattern)
				}
				matches, _ := filepath.Glob(pattern)
				for _, m := range matches {
					dirs = append(dirs, ldSoConf(m, depth+1)...)
				}
			}
		default:
			for _, d := range fields {
				if filepath.IsAbs(d) {
					dirs = append(dirs, filepath.Clean(d))
				}
			}
		}
	}
	return dirs
}
