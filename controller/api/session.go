package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skalds-go/skalds/controller/api/wire"
)

// The event-stream cookie: what a browser's EventSource, which cannot send
// an Authorization header, shows instead of the token.
const (
	eventsCookie     = "skalds_events"
	eventsCookiePath = "/api/events/"
	// eventsCookieTTL bounds how long a cookie opens the streams; the
	// dashboard asks for a new one whenever a stream is refused.
	eventsCookieTTL = 12 * time.Hour
)

// eventsCookieValue is "<expiry, epoch s>.<HMAC-SHA256 of it under the
// token>". It holds no secret and needs no server state, so any controller
// sharing the token accepts it, and it cannot outlive a change of token.
func (s *Server) eventsCookieValue(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + s.eventsMAC(e)
}

func (s *Server) eventsMAC(exp string) string {
	m := hmac.New(sha256.New, []byte(s.opts.Token))
	m.Write([]byte("skalds events cookie\n" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// eventsCookieValid reports whether r carries an unexpired cookie signed
// with the token.
func (s *Server) eventsCookieValid(r *http.Request, now time.Time) bool {
	c, err := r.Cookie(eventsCookie)
	if err != nil {
		return false
	}
	exp, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() >= secs {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.eventsMAC(exp)))
}

// eventsSession is POST /api/events/session: for a bearer of the token, a
// cookie that opens the event streams (and nothing else), HttpOnly so that
// no script reads it and SameSite=Strict so that no other site's page
// sends it. Without a configured token there is nothing to exchange.
func (s *Server) eventsSession(w http.ResponseWriter, r *http.Request) {
	if s.opts.Token == "" {
		s.writeJSON(w, http.StatusOK, succeeded("no token is configured; the event streams need no cookie", wire.EventsSession{}))
		return
	}
	exp := time.Now().Add(eventsCookieTTL)
	http.SetCookie(w, &http.Cookie{
		Name: eventsCookie, Value: s.eventsCookieValue(exp), Path: eventsCookiePath,
		Expires: exp, MaxAge: int(eventsCookieTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	s.writeJSON(w, http.StatusOK, succeeded("the cookie opens the event streams until it expires",
		wire.EventsSession{ExpiresAt: exp.UnixMilli()}))
}
