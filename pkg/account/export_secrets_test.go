package account

import "github.com/proxy-dev/proxy/pkg/codexauth"

// SetTokensForTest rotates a ChatGPT account's tokens as a refresh would.
func SetTokensForTest(a *Account, t codexauth.Tokens) { a.cred.(*chatGPT).update(t) }
