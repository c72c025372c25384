package fakeupstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// This file holds the blobs of the account-bound items. A real upstream
// binds the encrypted_content of a reasoning item and of a compaction item
// to the account (organisation) that minted it: only that account can read
// it when a client replays the item, and any other answers 400. The fake
// keeps that rule by default (refuse.go), so every test of the proxy runs
// under it.
//
// A blob is base64url(JSON payload) + "." + base64url(HMAC-SHA256 of the
// first part under the Server's secret). The payload,
// {"acct":<server name>,"id":<item id>,"kind":"reasoning"|"compaction","n":<nonce>},
// is readable by anyone (MintedBy), so a test can say who minted an item it
// sees in a request body; only the secret's holder can mint one that verifies.

// WithOrganization makes the server one account of the organisation named
// by secret: it mints its blobs with a key derived from secret instead of a
// random one of its own, so two Servers built with the same secret read
// each other's items (and any other Server still refuses them).
func WithOrganization(secret string) Option {
	return func(s *Server) { s.key = organizationKey(secret) }
}

func organizationKey(secret string) []byte {
	sum := sha256.Sum256([]byte("fakeupstream organization\x00" + secret))
	return sum[:]
}

// MintedBy reads the payload of a blob this package minted, without
// verifying it: the name of the Server that minted it and the id of the
// item it was minted for. ok is false for anything else (another upstream's
// ciphertext, a damaged blob). It says who minted an item, not who can
// read it: a Server reads only its own organisation's blobs.
func MintedBy(encryptedContent string) (account, itemID string, ok bool) {
	p, _, _, ok := parseBlob(encryptedContent)
	if !ok {
		return "", "", false
	}
	return p.Acct, p.ID, true
}

// The kinds of account-bound item a blob is minted for.
const (
	kindReasoning  = "reasoning"
	kindCompaction = "compaction"
)

// blobPayload is what a blob says about itself.
type blobPayload struct {
	Acct string `json:"acct"`
	ID   string `json:"id"`
	Kind string `json:"kind"`
	N    string `json:"n"`
}

// mint returns a new blob for the item id of the given kind.
func (s *Server) mint(kind, id string) string {
	p, _ := json.Marshal(blobPayload{Acct: s.name, ID: id, Kind: kind, N: randomHex(8)}) // cannot fail: strings only
	head := base64.RawURLEncoding.EncodeToString(p)
	return head + "." + base64.RawURLEncoding.EncodeToString(s.mac(head))
}

func (s *Server) mac(head string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(head))
	return m.Sum(nil)
}

// parseBlob splits and decodes a blob; ok is false when it is not one.
func parseBlob(blob string) (p blobPayload, head string, sig []byte, ok bool) {
	head, tail, found := strings.Cut(blob, ".")
	if !found {
		return p, "", nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return p, "", nil, false
	}
	sig, err = base64.RawURLEncoding.DecodeString(tail)
	if err != nil {
		return p, "", nil, false
	}
	if json.Unmarshal(raw, &p) != nil || p.Acct == "" || p.Kind == "" {
		return p, "", nil, false
	}
	return p, head, sig, true
}

// wantsReasoning reports whether a request asks for reasoning items with
// their encrypted content, as Codex always does: only then does a turn
// mint one, so the output of other clients' requests stays one item.
func (f requestFields) wantsReasoning() bool {
	var include []string
	if json.Unmarshal(f.Include, &include) != nil {
		return false
	}
	for _, v := range include {
		if v == "reasoning.encrypted_content" {
			return true
		}
	}
	return false
}
