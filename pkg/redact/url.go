package redact

import (
	"net/url"
	"strings"
)

// Unparsable stands for a URL that does not parse: where its password is
// cannot be told, so none of it is shown.
const Unparsable = "(unparsable url)"

// URL returns raw fit to show: without its user info (no user, no
// password) and with the values of credential-like query parameters
// (password=, token=, key=, ...) masked; Unparsable when it does not parse.
// Unlike url.URL.Redacted it drops the user name too: a user name alone is
// often the secret (redis://SECRET@host).
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Unparsable
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = maskQuery(u.RawQuery)
	}
	return u.String()
}

// URLSecrets returns the secrets a URL carries, each as written in the URL
// and as decoded when they differ, so a Set hides them wherever they are
// quoted: the user info's password (and the user name when there is no
// password, as in redis://SECRET@host), the values of credential-like query
// parameters, and the user info of a query value that names a host
// (addr=user:pass@host:port). Nothing for a URL that does not parse.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	add := func(decoded, written string) {
		out = append(out, decoded)
		if written != decoded && written != "" {
			out = append(out, written)
		}
	}
	if u.User != nil {
		written := rawUserinfo(raw)
		if p, ok := u.User.Password(); ok {
			_, wp, _ := strings.Cut(written, ":")
			add(p, wp)
		} else {
			add(u.User.Username(), written)
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		dk, _ := url.QueryUnescape(k)
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		if sensitiveParam(dk) {
			add(dv, v)
			continue
		}
		if at := strings.LastIndexByte(dv, '@'); at > 0 {
			info := dv[:at]
			if _, p, ok := strings.Cut(info, ":"); ok {
				out = append(out, p)
			}
			out = append(out, info)
		}
	}
	return out
}

// rawUserinfo is the user info of raw as written (still percent-encoded),
// "" when raw has none.
func rawUserinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	return rest[:at]
}

// maskQuery masks the values of credential-like parameters in a raw query,
// and the user info of values that name a host (addr=user:pass@host),
// keeping the rest as written.
func maskQuery(rawQuery string) string {
	parts := strings.Split(rawQuery, "&")
	changed := false
	for i, kv := range parts {
		k, v, ok := strings.Cut(kv, "=")
		dk, _ := url.QueryUnescape(k)
		switch {
		case !ok || v == "":
		case sensitiveParam(dk):
			parts[i] = k + "=" + Mask
			changed = true
		default:
			at := strings.LastIndexByte(v, '@')
			if enc := strings.LastIndex(strings.ToUpper(v), "%40"); enc > at {
				at = enc
			}
			if at > 0 {
				parts[i] = k + "=" + Mask + v[at:]
				changed = true
			}
		}
	}
	if !changed {
		return rawQuery
	}
	return strings.Join(parts, "&")
}

// sensitiveParam reports a query parameter that carries a credential, by
// name: password, sentinel_password, api_key, access_token, sig, ...
func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "secret", "token", "key", "auth", "sig", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
