package transport

import (
	"context"
	"encoding/json"
	"fmt"
)

// The status subsystem: the client sends "status" with its revocation list
// and whatever it wants to say about itself; the server adopts a newer list,
// and answers "status" with its own list and its own information. So a
// revocation travels one hop with every status exchange, in either
// direction.
type statusMessage struct {
	Revoked []byte          `json:"revoked,omitempty"`
	Info    json.RawMessage `json:"info,omitempty"`
}

// StatusFunc answers a status request: info is what the peer said about
// itself; the result is sent back as this node's information.
type StatusFunc func(ctx context.Context, p Peer, info json.RawMessage) (any, error)

func (s *Server) statusSubsystem(fn StatusFunc) Subsystem {
	return Subsystem{Name: SubsystemStatus, Min: 1, Max: 1, Handle: func(ctx context.Context, st *Stream, p Peer) error {
		var req statusMessage
		if err := st.RecvJSON("status", &req); err != nil {
			return err
		}
		if len(req.Revoked) > 0 {
			adopted, err := s.cfg.Authority.Adopt(req.Revoked)
			if err != nil {
				s.log.Warn("revocation list from peer refused", "peer", p.Name(), "error", err)
			} else if adopted {
				s.log.Info("adopted newer revocation list", "peer", p.Name(), "serial", s.cfg.Authority.RevocationSerial())
				s.Enforce()
			}
		}
		var info any
		if fn != nil {
			var err error
			if info, err = fn(ctx, p, req.Info); err != nil {
				return err
			}
		}
		raw, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return st.SendJSON("status", statusMessage{Revoked: s.cfg.Authority.Revocations().Raw(), Info: raw})
	}}
}

// Status exchanges revocation lists and information with the node on c.
// info is sent as this node's information; the node's answer is decoded
// into reply (if not nil). adopted reports whether the node's revocation
// list was newer and has been installed.
func (c *Conn) Status(ctx context.Context, auth interface {
	Adopt([]byte) (bool, error)
}, mine []byte, info, reply any) (adopted bool, err error) {
	st, err := c.Open(ctx, SubsystemStatus, 1, 1)
	if err != nil {
		return false, err
	}
	defer st.Close()
	raw, err := json.Marshal(info)
	if err != nil {
		return false, err
	}
	if err := st.SendJSON("status", statusMessage{Revoked: mine, Info: raw}); err != nil {
		return false, err
	}
	var ans statusMessage
	if err := st.RecvJSON("status", &ans); err != nil {
		return false, err
	}
	if len(ans.Revoked) > 0 {
		if adopted, err = auth.Adopt(ans.Revoked); err != nil {
			return false, fmt.Errorf("revocation list from %s: %w", c.Peer.Name, err)
		}
	}
	if reply != nil && len(ans.Info) > 0 {
		if err := json.Unmarshal(ans.Info, reply); err != nil {
			return adopted, fmt.Errorf("decode status from %s: %w", c.Peer.Name, err)
		}
	}
	return adopted, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
