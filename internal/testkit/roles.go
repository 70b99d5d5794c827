package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AuthMethod is how pg_hba.conf makes a role prove its password over TCP.
type AuthMethod string

// The authentication methods a test role can have.
const (
	// AuthSCRAM is scram-sha-256, the default for every role.
	AuthSCRAM AuthMethod = "scram-sha-256"
	// AuthMD5 is md5 challenge-response; the password is stored as an MD5
	// hash, otherwise PostgreSQL would silently use SCRAM instead.
	AuthMD5 AuthMethod = "md5"
	// AuthPassword is a cleartext password (PostgreSQL's "password").
	AuthPassword AuthMethod = "password"
)

// Role is a login role of a test server and the password it logs in with.
type Role struct {
	Name     string
	Password string
	Method   AuthMethod
}

// The superuser and the fixed login roles every server has from the start.
const (
	superuserName = "sluice_super"
	scramUserName = "scramuser"
	md5UserName   = "md5user"
	plainUserName = "plainuser"
)

// randomPassword returns 32 hex digits from crypto/rand.
func randomPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails on supported platforms
	return hex.EncodeToString(b)
}

// CreateRole creates a LOGIN role that authenticates over TCP with method
// (AuthSCRAM, AuthMD5 or AuthPassword) and password. The role joins the
// group sluice_testers, which has CONNECT on every database and ALL on
// schema public of "postgres" and of every database created later (the
// grant is in template1), and for md5 and password joins the group that
// pg_hba.conf maps to that method. It is safe for concurrent use.
func (s *Postgres) CreateRole(ctx context.Context, name, password string, method AuthMethod) error {
	var group string
	switch method {
	case AuthSCRAM:
	case AuthMD5:
		group = md5GroupRole
	case AuthPassword:
		group = passwordGroupRole
	default:
		return fmt.Errorf("create role %s: unknown auth method %q", name, method)
	}
	if strings.ContainsRune(password, 0) {
		return fmt.Errorf("create role %s: password contains NUL", name)
	}
	encryption := "scram-sha-256"
	if method == AuthMD5 {
		encryption = "md5"
	}
	groups := pgx.Identifier{testersRole}.Sanitize()
	if group != "" {
		groups += ", " + pgx.Identifier{group}.Sanitize()
	}
	// CREATE ROLE takes no parameters; the password is a quoted literal
	// (standard_conforming_strings is on, so only quotes need doubling).
	sql := fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s IN ROLE %s",
		pgx.Identifier{name}.Sanitize(), quoteLiteral(password), groups)

	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("create role %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('password_encryption', $1, true)", encryption); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql)
		return err
	})
	if err != nil {
		return fmt.Errorf("create role %s: %w", name, err)
	}
	return nil
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// setupRoles runs once on a fresh cluster: the group roles, the grants, and
// the fixed login roles.
func (s *Postgres) setupRoles(ctx context.Context) error {
	groups := fmt.Sprintf("CREATE ROLE %s NOLOGIN; CREATE ROLE %s NOLOGIN; CREATE ROLE %s NOLOGIN",
		md5GroupRole, passwordGroupRole, testersRole)
	if err := s.Exec(ctx, groups); err != nil {
		return fmt.Errorf("create group roles: %w", err)
	}
	// template1 is copied by CREATE DATABASE, so its grant reaches every
	// database created later, whoever creates it.
	grant := fmt.Sprintf("GRANT ALL ON SCHEMA public TO %s", testersRole)
	for _, db := range []string{"postgres", "template1"} {
		if err := s.execIn(ctx, db, grant); err != nil {
			return fmt.Errorf("grant on %s: %w", db, err)
		}
	}
	for _, r := range []Role{s.scram, s.md5, s.plain} {
		if err := s.CreateRole(ctx, r.Name, r.Password, r.Method); err != nil {
			return err
		}
	}
	return nil
}

// Superuser returns the superuser sluice_super (SCRAM). It owns the cluster;
// no role named postgres exists.
func (s *Postgres) Superuser() Role { return s.super }

// SCRAMUser returns the fixed role scramuser, which logs in with
// scram-sha-256.
func (s *Postgres) SCRAMUser() Role { return s.scram }

// MD5User returns the fixed role md5user, whose password is stored as an
// MD5 hash and which logs in with md5.
func (s *Postgres) MD5User() Role { return s.md5 }

// PlainUser returns the fixed role plainuser, which logs in with a
// cleartext password.
func (s *Postgres) PlainUser() Role { return s.plain }
