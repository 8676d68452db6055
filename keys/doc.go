// Package keys holds a mesh's trust material: the certificate authority, each
// node's identity key and its SSH certificates, the signed revocation list,
// single-use join tokens and the issuer's record of the machines it enrolled.
//
// Everything is stored in OpenSSH formats under a node's home directory, so
// ssh-keygen -L and ssh read the files:
//
//	DIR/keys/node_ed25519             identity key (0600)
//	DIR/keys/node_ed25519.pub         its public key
//	DIR/keys/node_ed25519-cert.pub    user certificate (the node as a client)
//	DIR/keys/node_ed25519-host-cert.pub  host certificate (the node as a server)
//	DIR/keys/ca.pub                   the mesh's CA public keys, one per line, identical on every node
//	DIR/keys/revoked                  the CA-signed revocation list
//	DIR/keys/ca_ed25519               the CA private key (0600), on the issuer only
//	DIR/issuer/                       the issuer's enrolled machines and pending tokens
//
// A certificate's key ID is the node's name; the SSH user name means nothing.
// Host certificates carry no principals: nodes are known by key, not by
// address. The package does no network I/O; package transport uses it to
// decide who may connect.
//
// What it does not guarantee: a private key is only as safe as the file
// system it is stored on. The permission checks refuse keys that others can
// read, as OpenSSH does, but cannot stop root or a stolen disk.
package keys
