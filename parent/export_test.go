package parent

import "time"

// SetNow lets tests move the service's clock.
func (s *Service) SetNow(now func() time.Time) { s.now = now }

// TokenMoved exposes tokenMoved to the tests.
var TokenMoved = tokenMoved
