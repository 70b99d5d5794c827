// Package postgres opens connections to an upstream PostgreSQL server with
// the credential sluice holds, and hands back the raw connection for the
// listener to relay. Authentication (SCRAM-SHA-256, md5, password) and TLS
// (sslmode disable, require, verify-ca, verify-full) are done by pgconn.
package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Target is an upstream PostgreSQL server and the credential to use.
type Target struct {
	Host     string
	Port     uint16
	Database string
	User     string
	// Password is sent only to the upstream server; it never appears in an
	// error returned by this package.
	Password string
	// SSLMode is disable, require, verify-ca or verify-full.
	SSLMode string
	// SSLRootCert is a CA bundle file for verify-ca and verify-full.
	SSLRootCert string
	// ConnectTimeout bounds the dial and authentication.
	ConnectTimeout time.Duration
}

// Conn is an authenticated upstream connection, idle and ready for a query.
// The caller owns it and must Close it.
type Conn struct {
	// Conn carries the protocol from here on; the caller reads and writes it.
	net.Conn
	// PID and SecretKey are the upstream's cancel key.
	PID       uint32
	SecretKey []byte
	// Params are the ParameterStatus values the server reported.
	Params map[string]string
	// TxStatus is the status byte of the server's ReadyForQuery.
	TxStatus byte

	cfg       *pgconn.Config
	tlsConfig *tls.Config
}

// Dial connects and authenticates to t, sending params (application_name,
// client_encoding, ...) as startup parameters. Errors never contain the
// password; they may contain the host and user, so they are for logs only.
func Dial(ctx context.Context, t Target, params map[string]string) (*Conn, error) {
	cfg, err := config(t)
	if err != nil {
		return nil, err
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	if t.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.ConnectTimeout)
		defer cancel()
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect upstream %s:%d: %w", t.Host, t.Port, scrub(err, t.Password))
	}
	hc, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, fmt.Errorf("take over upstream connection: %w", err)
	}
	if hc.Frontend.ReadBufferLen() > 0 {
		hc.Conn.Close()
		return nil, errors.New("upstream sent unexpected data after startup")
	}
	return &Conn{
		Conn:      hc.Conn,
		PID:       hc.PID,
		SecretKey: hc.SecretKey,
		Params:    hc.ParameterStatuses,
		TxStatus:  hc.TxStatus,
		cfg:       hc.Config,
		tlsConfig: hc.TLSConfig,
	}, nil
}

// config builds a pgconn config for t. The connection string is built with
// net/url so that no value can inject another setting; fallbacks (which
// sslmode prefer and allow would add) are never used.
func config(t Target) (*pgconn.Config, error) {
	q := url.Values{}
	q.Set("sslmode", t.SSLMode)
	if t.SSLRootCert != "" {
		q.Set("sslrootcert", t.SSLRootCert)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(t.User, t.Password),
		Host:     net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port))),
		Path:     "/" + t.Database,
		RawQuery: q.Encode(),
	}
	cfg, err := pgconn.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("upstream config for %s:%d: %w", t.Host, t.Port, scrub(err, t.Password))
	}
	cfg.Fallbacks = nil
	cfg.RuntimeParams = map[string]string{} // nothing from the environment
	cfg.ConnectTimeout = 0                  // the context carries the deadline
	return cfg, nil
}

// scrub returns err, or a replacement without its text if the text holds the
// password (defence in depth: pgconn does not put it there today).
func scrub(err error, password string) error {
	if password != "" && containsSecret(err.Error(), password) {
		return errors.New("upstream error (details withheld: they contained the credential)")
	}
	return err
}

func containsSecret(s, secret string) bool {
	return len(secret) >= 4 && strings.Contains(s, secret)
}
