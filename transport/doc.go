// Package transport is distmesh's SSH layer: a server that admits only
// machines enrolled in the mesh and offers a few subsystems (never a shell),
// and a client that talks only to nodes whose host certificate the mesh CA
// signed.
//
// # Who gets in
//
// A connection authenticates with an SSH user certificate signed by a key in
// ca.pub, inside its validity window, for a key that is not revoked. The SSH
// user name carries no meaning. Identity is decided after the client has
// proven possession of the key (VerifiedPublicKeyCallback), recorded in fresh
// Permissions for that connection, and checked again when each subsystem
// starts (so a key offered but never signed with cannot lend its identity to
// a later method: CVE-2024-45337). On the issuer, password authentication
// with a join token's secret admits a new machine to the enroll subsystem
// and nothing else.
//
// Refused outright: shell, exec, pty, env, X11 and agent forwarding, and
// port forwarding in either direction; unknown channel types and global
// requests. Key exchange, ciphers and host key algorithms are limited to
// modern ones (curve25519 and ML-KEM hybrids, chacha20-poly1305 and AES-GCM,
// ed25519 certificates), with strict key exchange against Terrapin. A
// connection has a login grace time and a bounded number of authentication
// attempts; unauthenticated connections are capped in total and per source
// address; channels per connection and message sizes are capped.
//
// # Subsystems
//
//	distmesh-compile   run compile jobs, one after another on a channel (package jobs)
//	distmesh-status    node status, peer lists and the revocation list exchange
//	distmesh-enroll    join with a token, or renew a certificate
//
// To reach one with the stock OpenSSH client, for debugging:
//
//	echo "@cert-authority * $(cat DIR/keys/ca.pub)" > known_hosts
//	printf 'distmesh 1 1\nstatus 2\n{}' | ssh -p 3633 -o UserKnownHostsFile=known_hosts \
//	    -i DIR/keys/node_ed25519 any@node -s distmesh-status
//
// # Wire format
//
// Every subsystem stream begins with a version exchange, so that nodes of
// different releases refuse each other cleanly or interoperate during a
// rolling upgrade. The client sends one line, "distmesh MIN MAX\n", the range
// of protocol versions it speaks; the server answers "distmesh V\n" with the
// highest version both speak, or "error MESSAGE\n" and closes the channel.
// The client may send its first message without waiting for the answer.
//
// After that both sides exchange messages: a header line "TYPE LENGTH\n"
// (TYPE a lowercase word, LENGTH decimal bytes) followed by LENGTH bytes of
// payload: JSON for control messages, raw bytes for file contents. A message
// of type "error" carries a one-line, human-readable reason and ends the
// exchange. Messages are capped in size (see Limits).
package transport
