package discovery

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/distmesh/distmesh/keys"
)

// ServiceType is the DNS-SD service type nodes advertise.
const ServiceType = "_distmesh._tcp"

// Version is the version of the advertisement format (the TXT key "v").
// A record with another version is ignored.
const Version = 1

// Limits on what is advertised and on what is accepted.
const (
	maxTXTString = 255  // one TXT string (DNS: a length byte)
	maxTXT       = 1300 // the whole TXT record: well under one 1500-byte packet
	maxTXTItems  = 32   // strings in one TXT record
	maxCompilers = 16   // compiler identities advertised (the status exchange has them all)
	compilerLen  = 12   // hex digits of a compiler identity in the TXT record
)

// ErrMalformed is wrapped by the errors ParseRecord returns for a record
// that is not a distmesh advertisement this version understands.
var ErrMalformed = errors.New("malformed advertisement")

// Record is what a node says about itself in its TXT record. Nothing in it
// is trusted: the mesh id only filters out other meshes' noise, the name
// and load are for display and scheduling hints, and the key is what the
// certificate presented at that address must match.
type Record struct {
	Mesh      keys.Fingerprint // the mesh's CA fingerprint
	Name      string           // the node's name (its certificate's key ID)
	Key       keys.Fingerprint // the node's key
	Version   int              // advertisement format, Version
	Slots     int              // compiles it runs at once; 0: it serves none
	Arch      string           // GOARCH of the node, e.g. amd64
	Compilers []string         // short compiler identities (12 hex digits)
	Load      float64          // 1-minute load average
}

var archRE = regexp.MustCompile(`^[a-z0-9_]{1,16}$`)

// TXT encodes r as DNS-SD TXT strings (see the package documentation for
// the format). Compilers beyond the first 16 are left out; the load is
// rounded to one decimal.
func (r Record) TXT() ([]string, error) {
	if err := keys.CheckName(r.Name); err != nil {
		return nil, fmt.Errorf("encode advertisement: %w", err)
	}
	if r.Mesh.IsZero() || r.Key.IsZero() {
		return nil, errors.New("encode advertisement: mesh and key fingerprints are required")
	}
	v := r.Version
	if v == 0 {
		v = Version
	}
	txt := []string{
		"v=" + strconv.Itoa(v),
		"mesh=" + r.Mesh.String(),
		"name=" + r.Name,
		"key=" + r.Key.String(),
		"slots=" + strconv.Itoa(max(r.Slots, 0)),
	}
	if archRE.MatchString(r.Arch) {
		txt = append(txt, "arch="+r.Arch)
	}
	load := r.Load
	if !(load >= 0) {
		load = 0 // NaN or negative: unknown
	}
	txt = append(txt, "load="+strconv.FormatFloat(min(load, 1e6), 'f', 1, 64))
	var ids []string
	for _, c := range r.Compilers {
		if len(ids) == maxCompilers {
			break
		}
		if len(c) > compilerLen {
			c = c[:compilerLen]
		}
		if isHex(c) {
			ids = append(ids, strings.ToLower(c))
		}
	}
	if len(ids) > 0 {
		txt = append(txt, "cc="+strings.Join(ids, ","))
	}
	total := 0
	for _, s := range txt {
		if len(s) > maxTXTString {
			return nil, fmt.Errorf("encode advertisement: %q is longer than %d bytes", s[:20], maxTXTString)
		}
		total += 1 + len(s)
	}
	if total > maxTXT {
		return nil, fmt.Errorf("encode advertisement: %d bytes, more than %d", total, maxTXT)
	}
	return txt, nil
}

// ParseRecord decodes the TXT strings of an advertisement. Keys are matched
// case-insensitively and only the first occurrence of a key counts (RFC
// 6763, 6.4); unknown keys are ignored, so that later versions can add
// some. A record that is too large, lacks a required key or carries a value
// that does not parse is refused with an error wrapping ErrMalformed.
func ParseRecord(txt []string) (Record, error) {
	var r Record
	if len(txt) > maxTXTItems {
		return r, fmt.Errorf("%w: %d strings, more than %d", ErrMalformed, len(txt), maxTXTItems)
	}
	total := 0
	kv := map[string]string{}
	for _, s := range txt {
		if len(s) > maxTXTString {
			return r, fmt.Errorf("%w: a string of %d bytes", ErrMalformed, len(s))
		}
		total += 1 + len(s)
		k, v, _ := strings.Cut(s, "=")
		k = strings.ToLower(k)
		if k == "" {
			continue
		}
		if _, dup := kv[k]; !dup {
			kv[k] = v
		}
	}
	if total > maxTXT {
		return r, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, total, maxTXT)
	}
	bad := func(key string) (Record, error) {
		return Record{}, fmt.Errorf("%w: %s=%.40q", ErrMalformed, key, kv[key])
	}
	for _, k := range []string{"v", "mesh", "name", "key"} {
		if _, ok := kv[k]; !ok {
			return r, fmt.Errorf("%w: no %s", ErrMalformed, k)
		}
	}
	v, err := strconv.Atoi(kv["v"])
	if err != nil || v < 1 {
		return bad("v")
	}
	r.Version = v
	if v != Version {
		// Another format: the rest may mean something else.
		return r, fmt.Errorf("%w: version %d, this node reads version %d", ErrMalformed, v, Version)
	}
	if r.Mesh, err = keys.ParseFingerprint(kv["mesh"]); err != nil {
		return bad("mesh")
	}
	if r.Key, err = keys.ParseFingerprint(kv["key"]); err != nil {
		return bad("key")
	}
	if err := keys.CheckName(kv["name"]); err != nil {
		return bad("name")
	}
	r.Name = kv["name"]
	if s, ok := kv["slots"]; ok {
		if r.Slots, err = strconv.Atoi(s); err != nil || r.Slots < 0 || r.Slots > 1<<16 {
			return bad("slots")
		}
	}
	if s, ok := kv["arch"]; ok {
		if !archRE.MatchString(s) {
			return bad("arch")
		}
		r.Arch = s
	}
	if s, ok := kv["load"]; ok {
		if r.Load, err = strconv.ParseFloat(s, 64); err != nil || !(r.Load >= 0 && r.Load <= 1e6) {
			return bad("load")
		}
	}
	if s, ok := kv["cc"]; ok && s != "" {
		for _, c := range strings.Split(s, ",") {
			if len(c) != compilerLen || !isHex(c) || len(r.Compilers) == maxCompilers {
				return bad("cc")
			}
			r.Compilers = append(r.Compilers, strings.ToLower(c))
		}
	}
	return r, nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	_, err := hex.DecodeString(s + strings.Repeat("0", len(s)%2))
	return err == nil
}

// InstanceName is the DNS-SD instance name a node advertises under: its
// name and the start of its key's fingerprint, so that two meshes with a
// node of the same name do not collide. The name is cut to fit a DNS label.
func InstanceName(name string, key keys.Fingerprint) string {
	suffix := " (" + hex.EncodeToString(key[:6]) + ")"
	if len(name)+len(suffix) > 63 {
		name = name[:63-len(suffix)]
	}
	return name + suffix
}

// HostName is the mDNS host name a node's address records use. It is its
// own, not the machine's: the machine's name belongs to the machine's own
// responder (Avahi), and several nodes may share a machine.
func HostName(key keys.Fingerprint) string {
	return "distmesh-" + hex.EncodeToString(key[:6]) + ".local"
}
