package sts

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/config"
)

// A Key seals session tokens. Its 32-byte secret is never used directly:
// one subkey encrypts (AES-256-GCM), another derives session secrets
// (HMAC-SHA256), so that no two uses share a key.
type Key struct {
	ID     string
	aead   cipher.AEAD
	derive []byte
}

func newKey(id string, secret []byte) (*Key, error) {
	if len(secret) != 32 {
		return nil, fmt.Errorf("sts key %s: secret must be 32 bytes", id)
	}
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(sub("cairn sts token encryption v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{ID: id, aead: aead, derive: sub("cairn sts session secret v1")}, nil
}

// Ring is the set of keys that open session tokens; the active one seals
// new tokens. Tokens sealed by a key validate until that key is removed.
type Ring struct {
	st atomic.Pointer[ringState]
	// Source says where the ring came from, for the start-up message.
	Source string
}

type ringState struct {
	active *Key
	byID   map[string]*Key
}

// Replace switches to the keys of other (a reload): tokens sealed by keys
// no longer in it stop validating.
func (r *Ring) Replace(other *Ring) { r.st.Store(other.st.Load()) }

// NewRing builds a ring; the first key is active.
func NewRing(keys []config.STSKey, source string) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("sts key ring: no keys")
	}
	r := &Ring{Source: source}
	st := &ringState{byID: map[string]*Key{}}
	for _, k := range keys {
		secret, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("sts key %s: %w", k.ID, err)
		}
		key, err := newKey(k.ID, secret)
		if err != nil {
			return nil, err
		}
		if st.active == nil {
			st.active = key
		}
		st.byID[k.ID] = key
	}
	r.st.Store(st)
	return r, nil
}

// ActiveID is the id of the key that seals new tokens.
func (r *Ring) ActiveID() string { return r.st.Load().active.ID }

const tokenVersion = 1

// seal encrypts payload under the active key:
// base64url(version | len(id) | id | nonce | ciphertext+tag), with the
// version and key id authenticated as associated data.
func (r *Ring) seal(payload []byte) string {
	return sealWith(r.st.Load().active, payload)
}

func sealWith(k *Key, payload []byte) string {
	head := append([]byte{tokenVersion, byte(len(k.ID))}, k.ID...)
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out := append(append([]byte{}, head...), nonce...)
	out = k.aead.Seal(out, nonce, payload, head)
	return base64.RawURLEncoding.EncodeToString(out)
}

var errBadToken = errors.New("malformed or unauthenticated token")

// open authenticates and decrypts a token. Any flipped bit fails.
func (r *Ring) open(token string) ([]byte, *Key, error) {
	// Strict: a token has exactly one spelling, so that no changed
	// character (even in the unused low bits of the last one) passes.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 2 || raw[0] != tokenVersion {
		return nil, nil, errBadToken
	}
	idLen := int(raw[1])
	if len(raw) < 2+idLen {
		return nil, nil, errBadToken
	}
	k, ok := r.st.Load().byID[string(raw[2:2+idLen])]
	if !ok {
		return nil, nil, fmt.Errorf("token sealed by unknown or retired key %q", raw[2:2+idLen])
	}
	head := raw[:2+idLen]
	rest := raw[2+idLen:]
	if len(rest) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, nil, errBadToken
	}
	plain, err := k.aead.Open(nil, rest[:k.aead.NonceSize()], rest[k.aead.NonceSize():], head)
	if err != nil {
		return nil, nil, errBadToken
	}
	return plain, k, nil
}

// sessionSecret derives a session's secret access key from its access key
// id and issue time: the token never contains the secret, not even
// encrypted, and nobody without the ring can compute it.
func (k *Key) sessionSecret(accessKey string, issued int64) string {
	m := hmac.New(sha256.New, k.derive)
	fmt.Fprintf(m, "%s\x00%d", accessKey, issued)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:40]
}

// --- the key ring file in the data dir ---

const ringFile = "sts-keys.json"

type ringDoc struct {
	Keys []ringEntry `json:"keys"` // first is active
}

type ringEntry struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

func newEntry() ringEntry {
	b := make([]byte, 32)
	rand.Read(b)
	return ringEntry{ID: "k" + time.Now().UTC().Format("20060102T150405"), Secret: base64.StdEncoding.EncodeToString(b), Created: time.Now().UTC()}
}

func readRing(dataDir string) (ringDoc, error) {
	var doc ringDoc
	b, err := os.ReadFile(filepath.Join(dataDir, ringFile))
	if err != nil {
		return doc, err
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Keys) == 0 {
		return doc, fmt.Errorf("%s: malformed key ring", filepath.Join(dataDir, ringFile))
	}
	return doc, nil
}

func writeRing(dataDir string, doc ringDoc) error {
	b, _ := json.MarshalIndent(doc, "", "  ")
	path := filepath.Join(dataDir, ringFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (doc ringDoc) configKeys() []config.STSKey {
	out := make([]config.STSKey, len(doc.Keys))
	for i, e := range doc.Keys {
		out[i] = config.STSKey{ID: e.ID, Secret: e.Secret}
	}
	return out
}

// LoadRing returns the config's ring when it has one, else the data dir's,
// generating it at first start.
func LoadRing(cfg *config.Config, dataDir string) (*Ring, error) {
	if len(cfg.STS.Keys) > 0 {
		return NewRing(cfg.STS.Keys, "config (sts.keys)")
	}
	doc, err := readRing(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		doc = ringDoc{Keys: []ringEntry{newEntry()}}
		if err := writeRing(dataDir, doc); err != nil {
			return nil, fmt.Errorf("sts key ring: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	return NewRing(doc.configKeys(), filepath.Join(dataDir, ringFile))
}

// RotateKey adds a new active key to the data dir's ring; older keys keep
// validating the tokens they sealed until retired.
func RotateKey(dataDir string) (string, error) {
	doc, err := readRing(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		doc = ringDoc{}
	} else if err != nil {
		return "", err
	}
	e := newEntry()
	for _, k := range doc.Keys {
		if k.ID == e.ID {
			e.ID += "-" + base64.RawURLEncoding.EncodeToString([]byte(e.Secret))[:4]
		}
	}
	doc.Keys = append([]ringEntry{e}, doc.Keys...)
	return e.ID, writeRing(dataDir, doc)
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// RetireKey removes a key: tokens it sealed stop validating.
func RetireKey(dataDir, id string) error {
	doc, err := readRing(dataDir)
	if err != nil {
		return err
	}
	if !keyIDRE.MatchString(id) {
		return fmt.Errorf("%q is not a key id", id)
	}
	var keep []ringEntry
	for _, k := range doc.Keys {
		if k.ID != id {
			keep = append(keep, k)
		}
	}
	if len(keep) == len(doc.Keys) {
		return fmt.Errorf("no key %q in %s", id, filepath.Join(dataDir, ringFile))
	}
	if len(keep) == 0 {
		return errors.New("refusing to retire the last key: rotate first")
	}
	doc.Keys = keep
	return writeRing(dataDir, doc)
}

// ListKeys describes the data dir's ring.
func ListKeys(dataDir string) ([]string, error) {
	doc, err := readRing(dataDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, k := range doc.Keys {
		state := "validates"
		if i == 0 {
			state = "active (seals new tokens)"
		}
		out = append(out, fmt.Sprintf("%s\tcreated %s\t%s", k.ID, k.Created.Format(time.RFC3339), state))
	}
	return out, nil
}
