package httpproxy

import (
	"context"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/gate"
)

// EndIdle is the end reason of a session that saw no request for
// SessionIdle.
const EndIdle = "idle_timeout"

// sessionKey groups one caller's requests to one connection into a
// session: the same identity (and groups), address and front door.
type sessionKey struct {
	issuer, subject, token, groups string
	connection                     string
	ip                             string
	protocol                       sluice.Protocol
}

// session is a gate session and how it is used.
type session struct {
	gs       *gate.Session
	last     time.Time
	inflight int
}

// acquire returns the caller's session on cn, opening it (which checks the
// grant) on first use; release must be called when the request is done.
func (s *Server) acquire(ctx context.Context, c *caller, cn *Conn) (*gate.Session, func(), error) {
	k := sessionKey{issuer: c.id.Issuer, subject: c.id.Subject, token: c.id.TokenID,
		groups: strings.Join(c.id.Groups, "\x00"), connection: cn.Name, ip: c.addr.Addr().String(), protocol: c.protocol}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, sluice.Errorf(sluice.EUnavailable, "sluice is shutting down")
	}
	ss := s.sessions[k]
	if ss == nil {
		s.mu.Unlock()
		gs, err := s.Gate.OpenSession(ctx, gate.SessionInfo{Identity: c.id, Connection: cn.Name,
			Protocol: c.protocol, ClientAddr: c.addr})
		if err != nil {
			return nil, nil, err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			gs.Close(context.WithoutCancel(ctx), sluice.EndShutdown)
			return nil, nil, sluice.Errorf(sluice.EUnavailable, "sluice is shutting down")
		}
		if ss = s.sessions[k]; ss == nil {
			ss = &session{gs: gs}
			s.sessions[k] = ss
		} else {
			// Another request opened it meanwhile; this one is not needed.
			defer gs.Close(context.WithoutCancel(ctx), sluice.EndClient)
		}
	}
	ss.inflight++
	ss.last = s.Now()
	s.mu.Unlock()
	return ss.gs, func() {
		s.mu.Lock()
		ss.inflight--
		ss.last = s.Now()
		s.mu.Unlock()
	}, nil
}

// reap ends idle sessions until Close.
func (s *Server) reap() {
	t := time.NewTicker(max(s.SessionIdle/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.endIdle()
		}
	}
}

// endIdle ends the sessions idle for longer than SessionIdle.
func (s *Server) endIdle() {
	now := s.Now()
	var idle []*session
	s.mu.Lock()
	for k, ss := range s.sessions {
		if ss.inflight == 0 && now.Sub(ss.last) >= s.SessionIdle {
			delete(s.sessions, k)
			idle = append(idle, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range idle {
		ss.gs.Close(context.Background(), EndIdle)
	}
}

// Sessions returns how many sessions are open.
func (s *Server) Sessions() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close ends every session; requests still running finish, new ones are
// refused.
func (s *Server) Close() {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	all := s.sessions
	s.sessions = map[sessionKey]*session{}
	s.mu.Unlock()
	close(s.stop)
	s.reaper.Wait()
	for _, ss := range all {
		ss.gs.Close(context.Background(), sluice.EndShutdown)
	}
}
