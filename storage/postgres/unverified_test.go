package postgres

import "testing"

// TestUnverified: a connection that leaves the machine without verifying
// the server is named; verify-full and verify-ca, a unix socket and
// loopback are not. pgx's default (no sslmode) is prefer: TLS without
// verification, falling back to plain text.
func TestUnverified(t *testing.T) {
	for dsn, unverified := range map[string]bool{
		"postgres://u:p@/autowallet?host=/run/postgresql":                     false,
		"postgres://u:p@127.0.0.1:5432/autowallet?sslmode=disable":            false,
		"postgres://u:p@[::1]:5432/autowallet?sslmode=disable":                false,
		"host=localhost dbname=autowallet sslmode=disable":                    false,
		"postgres://u:p@db.example.com/autowallet?sslmode=verify-full":        false,
		"postgres://u:p@db.example.com/autowallet?sslmode=verify-ca":          false,
		"postgres://u:p@db.example.com/autowallet":                            true,
		"postgres://u:p@db.example.com/autowallet?sslmode=prefer":             true,
		"postgres://u:p@db.example.com/autowallet?sslmode=require":            true,
		"postgres://u:p@10.0.0.5/autowallet?sslmode=disable":                  true,
		"host=db.example.com dbname=autowallet sslmode=allow password=secret": true,
	} {
		if got := Unverified(dsn); (got != "") != unverified {
			t.Errorf("%s: %q, want unverified %v", dsn, got, unverified)
		}
	}
}
