package codexauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// authClaim is the id_token claim where OpenAI puts the ChatGPT account.
const authClaim = "https://api.openai.com/auth"

// Claims decodes a JWT's payload without verifying its signature: we are
// not the audience that must trust it, only a holder that needs to know when
// it expires and whose it is.
func Claims(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT: want three dot-separated parts")
	}
	// Issuers should omit padding, but tolerating it costs nothing.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("decoding JWT payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("decoding JWT payload: %w", err)
	}
	return claims, nil
}

// Expiry returns the JWT's exp claim; false when the token is not a JWT or
// has no exp, so the caller can refresh on failure instead of on a timer.
func Expiry(jwt string) (time.Time, bool) {
	claims, err := Claims(jwt)
	if err != nil {
		return time.Time{}, false
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return time.Time{}, false
	}
	sec := int64(exp)
	return time.Unix(sec, int64((exp-float64(sec))*1e9)), true
}

// AccountIDFromIDToken returns the id_token's
// "https://api.openai.com/auth".chatgpt_account_id claim, or "" when it has
// none.
func AccountIDFromIDToken(idToken string) string {
	return authString(idToken, "chatgpt_account_id")
}

// PlanType returns a ChatGPT token's
// "https://api.openai.com/auth".chatgpt_plan_type claim (plus, pro, team,
// ...), or "" when it has none. It is read unverified, for display only.
func PlanType(token string) string {
	return authString(token, "chatgpt_plan_type")
}

// authString is the string field of token's authClaim, read unverified;
// "" when the token is not a JWT or the field is absent.
func authString(token, field string) string {
	claims, err := Claims(token)
	if err != nil {
		return ""
	}
	auth, _ := claims[authClaim].(map[string]any)
	v, _ := auth[field].(string)
	return v
}
