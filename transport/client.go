package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distmesh/distmesh/keys"
)

// Client dials mesh nodes. It presents the node's user certificate and talks
// only to servers whose host certificate the mesh CA signed.
type Client struct {
	Identity  *keys.Identity
	Authority *keys.Authority
	// MaxMessage caps received messages; DefaultLimits.MaxMessage if zero.
	MaxMessage int64
	Now        func() time.Time
}

// Conn is a verified connection to one node, multiplexing any number of
// subsystem streams.
type Conn struct {
	Peer   keys.Member // who the host certificate says is there
	Addr   string
	client *ssh.Client
	maxMsg int64
}

// ErrHostNotMember is returned by Dial when the server's host key is not
// certified by the mesh CA (another mesh, an impostor, or not distmesh).
var ErrHostNotMember = errors.New("server is not a member of this mesh")

// Dial connects to addr and verifies the server's host certificate. The
// handshake is bounded by ctx.
func (c *Client) Dial(ctx context.Context, addr string) (*Conn, error) {
	signer, err := c.Identity.UserSigner()
	if err != nil {
		return nil, err
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	var peer keys.Member
	cfg := &ssh.ClientConfig{
		Config: ssh.Config{KeyExchanges: kexAlgorithms, Ciphers: cipherSuites, MACs: macAlgorithms},
		// The user name means nothing to a distmesh server; send the node
		// name so the other side's logs read well.
		User:              c.Identity.Name,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyAlgorithms: hostKeyAlgos,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			m, err := c.Authority.CheckHost(key, now())
			if err != nil {
				return fmt.Errorf("%w: %w", ErrHostNotMember, err)
			}
			peer = m
			return nil
		},
	}
	sc, err := dialSSH(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	max := c.MaxMessage
	if max <= 0 {
		max = DefaultLimits.MaxMessage
	}
	return &Conn{Peer: peer, Addr: addr, client: sc, maxMsg: max}, nil
}

// dialSSH makes the TCP connection and the SSH handshake, both bounded by
// ctx.
func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if !stop() || err != nil {
		nc.Close()
		if err == nil {
			c.Close()
			err = ctx.Err()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// Open starts a subsystem stream speaking protocol versions lo to hi. The
// stream is closed when ctx is cancelled. The version exchange is pipelined:
// Open does not wait for the server's answer; the first Recv does.
func (c *Conn) Open(ctx context.Context, subsystem string, lo, hi int) (*ClientStream, error) {
	type opened struct {
		ch  ssh.Channel
		err error
	}
	done := make(chan opened, 1)
	go func() {
		ch, reqs, err := c.client.OpenChannel("session", nil)
		if err != nil {
			done <- opened{err: fmt.Errorf("open %s on %s: %w", subsystem, c.Peer.Name, err)}
			return
		}
		go ssh.DiscardRequests(reqs)
		ok, err := ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{subsystem}))
		if err == nil && !ok {
			err = fmt.Errorf("refused by %s", c.Peer.Name)
		}
		if err != nil {
			ch.Close()
			done <- opened{err: fmt.Errorf("open %s: %w", subsystem, err)}
			return
		}
		done <- opened{ch: ch}
	}()
	var o opened
	select {
	case o = <-done:
		if o.err != nil {
			return nil, o.err
		}
	case <-ctx.Done():
		// The server has not answered: the channel, if it ever opens, is
		// closed then.
		go func() {
			if o := <-done; o.ch != nil {
				o.ch.Close()
			}
		}()
		return nil, fmt.Errorf("open %s on %s: %w", subsystem, c.Peer.Name, ctx.Err())
	}
	ch := o.ch
	cs := &ClientStream{Stream: newStream(ch, c.maxMsg), ch: ch}
	cs.stop = context.AfterFunc(ctx, func() { ch.Close() })
	if err := clientHello(cs.Stream, lo, hi); err != nil {
		cs.Close()
		return nil, err
	}
	return cs, nil
}

// Ping sends a keepalive and waits for the answer, returning the round-trip
// time.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		errc <- err
	}()
	select {
	case err := <-errc:
		return time.Since(start), err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Wait blocks until the connection is closed.
func (c *Conn) Wait() error { return c.client.Wait() }

// Close closes the connection and every stream on it.
func (c *Conn) Close() error { return c.client.Close() }

// ClientStream is the client's end of a subsystem stream.
type ClientStream struct {
	*Stream
	ch      ssh.Channel
	stop    func() bool
	greeted bool
}

// Recv reads the server's version answer first, then messages.
func (cs *ClientStream) Recv() (string, []byte, error) {
	if err := cs.greet(); err != nil {
		return "", nil, err
	}
	return cs.Stream.Recv()
}

// RecvJSON is Stream.RecvJSON after the version answer.
func (cs *ClientStream) RecvJSON(want string, v any) error {
	if err := cs.greet(); err != nil {
		return err
	}
	return cs.Stream.RecvJSON(want, v)
}

// Wait is Stream.Wait after the version answer.
func (cs *ClientStream) Wait() (more bool, err error) {
	if err := cs.greet(); err != nil {
		return false, err
	}
	return cs.Stream.Wait()
}

func (cs *ClientStream) greet() error {
	if cs.greeted {
		return nil
	}
	v, err := readServerHello(cs.Stream)
	if err != nil {
		return err
	}
	cs.Version, cs.greeted = v, true
	return nil
}

// CloseWrite tells the server nothing more will be sent.
func (cs *ClientStream) CloseWrite() error { return cs.ch.CloseWrite() }

// Close ends the stream.
func (cs *ClientStream) Close() error {
	cs.stop()
	return cs.Stream.Close()
}

// Unbind unties the stream from the context it was opened or last bound
// with, to keep it for another exchange (a subsystem whose server serves
// several in turn). It reports false when that context has ended already:
// the stream is closed, or closing.
func (cs *ClientStream) Unbind() bool {
	if !cs.stop() {
		return false
	}
	cs.stop = func() bool { return true }
	return true
}

// Bind ties an unbound stream to ctx: the stream is closed when ctx ends.
func (cs *ClientStream) Bind(ctx context.Context) {
	cs.stop = context.AfterFunc(ctx, func() { cs.ch.Close() })
}
