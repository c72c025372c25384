package config

import (
	"errors"
	"net/url"
)

// ParseProxyURL parses an account's proxy_url: http:// or https:// (an
// HTTP proxy, reached in the clear or over TLS) or socks5:// (socks5h://
// too, the same thing here: the proxy resolves host names), with a host
// and optionally user:password. Its errors never quote the URL, which may
// hold a password; they read after the field's name ("proxy_url must ...").
func ParseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's own error quotes the whole URL.
		return nil, errors.New("is not a URL (like socks5://127.0.0.1:1080 or http://user:password@proxy:3128)")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, errors.New("must start with http://, https:// or socks5://")
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host (like socks5://127.0.0.1:1080)")
	}
	return u, nil
}
