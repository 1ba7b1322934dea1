// Package app assembles a cairn server from its options: the data dir, the
// config file, the root credentials, the store and the S3 handler. The
// binary and the tests build servers the same way through it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/iam"
	"github.com/cairn-io/cairn/internal/identity"
	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/cairn-io/cairn/internal/s3api"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/cairn-io/cairn/internal/sts"
)

// Options configure a server.
type Options struct {
	DataDir    string
	ConfigPath string // optional
	// Region and Domain override the config file when set.
	Region string
	Domain string
	NoSync bool
	Logger *slog.Logger
	// RootAccessKey and RootSecretKey, when both set, are the root
	// credentials; otherwise they are loaded from or generated in the
	// data dir.
	RootAccessKey, RootSecretKey string
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// Limits and logging (zero values are the defaults).
	MaxInFlight     int
	BodyIdleTimeout time.Duration
	AccessLog       bool
}

// App is an assembled server.
type App struct {
	Handler http.Handler
	// Admin serves /metrics, /healthz and /readyz on their own listener.
	Admin   http.Handler
	Metrics *metrics.Metrics
	Store   *store.Local
	Config  *config.Config
	Root    RootCredentials
	Ring    *sts.Ring
	STS     *sts.Service
	// Resolver resolves access keys and session tokens.
	Resolver *sts.Resolver

	configPath string
	file       atomic.Pointer[config.Config] // the config file as last loaded
	iam        *iam.Service
}

// RootCredentials are the account root's keys and where they came from.
type RootCredentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	Source    string `json:"-"`
	Generated bool   `json:"-"`
}

const rootCredentialsFile = "root-credentials.json"

// Open validates options, opens the store and builds the handler.
func Open(o Options) (*App, error) {
	cfg := config.Default()
	if o.ConfigPath != "" {
		c, err := config.Load(o.ConfigPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if o.Region != "" {
		cfg.Region = o.Region
	}
	if o.Domain != "" {
		cfg.Domain = o.Domain
	}
	if err := checkDataDir(o.DataDir); err != nil {
		return nil, err
	}
	root, err := rootCredentials(o)
	if err != nil {
		return nil, err
	}
	for _, u := range cfg.Users {
		if u.AccessKey == root.AccessKey {
			return nil, fmt.Errorf("config %s: user %q uses the root access key", o.ConfigPath, u.Name)
		}
	}
	st, err := store.OpenLocal(o.DataDir, store.Options{NoSync: o.NoSync})
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	// Identities created through the IAM API live in the store, beside
	// the config file's.
	iamData, err := st.GetMeta("iam")
	if err != nil {
		st.Close()
		return nil, err
	}
	iamSvc, err := iam.Open(iamData, cfg.AccountID)
	if err != nil {
		st.Close()
		return nil, err
	}
	dir, err := identity.NewDirectory(iamSvc.Merged(cfg), root.AccessKey, root.SecretKey)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("identities (config file and IAM API): %w", err)
	}
	ring, err := sts.LoadRing(cfg, o.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	svc, err := sts.New(dir, ring, log, o.Now)
	if err != nil {
		st.Close()
		return nil, err
	}
	m := metrics.New()
	svc.OnIssue = func(action, role, provider string) { m.STSIssued.WithLabelValues(action, role, provider).Inc() }
	svc.OnFetch = func(provider string, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.JWKSFetches.WithLabelValues(provider, result).Inc()
	}
	resolver := sts.NewResolver(dir, ring, o.Now)
	var proxies []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			a, _ := netip.ParseAddr(p)
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		proxies = append(proxies, pf.Masked())
	}
	a := &App{Metrics: m, Store: st, Config: cfg, Root: root, Ring: ring, STS: svc, Resolver: resolver, configPath: o.ConfigPath, iam: iamSvc}
	a.file.Store(cfg)
	iamSvc.File = func() *config.Config { return a.file.Load() }
	iamSvc.FilePath = o.ConfigPath
	iamSvc.Save = func(b []byte) error { return st.PutMeta("iam", b) }
	iamSvc.Apply = a.apply
	h := s3api.New(s3api.Config{
		Store:       st,
		Credentials: resolver,
		STS:         svc,
		Region:      cfg.Region,
		Account:     cfg.AccountID,
		Domain:      cfg.Domain,
		Logger:      log,
		Now:         o.Now,

		TrustedProxies:  proxies,
		Metrics:         m,
		MaxInFlight:     o.MaxInFlight,
		BodyIdleTimeout: o.BodyIdleTimeout,
		AccessLog:       o.AccessLog,
		Ready:           st.Ping,
		IAM:             iam.NewHandler(iamSvc, log),
	})
	a.Handler, a.Admin = h, h.AdminHandler()
	return a, nil
}

// Reload re-reads the config file and switches users, roles, providers
// and policies at once; a file that does not validate is refused and the
// running configuration stays. Listener, data dir, region and domain are
// not reloaded. Sessions keep working while their role exists.
func (a *App) Reload() error {
	if a.configPath == "" {
		return errors.New("no config file to reload")
	}
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return err
	}
	if len(cfg.STS.Keys) > 0 {
		// A ring in the config reloads with it: removed keys stop
		// validating (the sessions cache is dropped by apply below).
		ring, err := sts.NewRing(cfg.STS.Keys, "config (sts.keys)")
		if err != nil {
			return err
		}
		old := new(sts.Ring)
		old.Replace(a.Ring)
		a.Ring.Replace(ring)
		if err := a.apply(a.iam.Merged(cfg)); err != nil {
			a.Ring.Replace(old)
			return err
		}
		a.file.Store(cfg)
		return nil
	}
	if err := a.apply(a.iam.Merged(cfg)); err != nil {
		return err
	}
	a.file.Store(cfg)
	return nil
}

// apply switches the server to a configuration of identities: the file's
// merged with the IAM API's.
func (a *App) apply(merged *config.Config) error {
	dir, err := identity.NewDirectory(merged, a.Root.AccessKey, a.Root.SecretKey)
	if err != nil {
		return err
	}
	if err := a.STS.SetDirectory(dir); err != nil {
		return err
	}
	a.Resolver.SetDirectory(dir)
	return nil
}

// WatchConfig reloads the config file when it changes (its modification
// time, size or inode), checking every interval until ctx ends. Each
// reload is validated as on SIGHUP; report receives its outcome.
func (a *App) WatchConfig(ctx context.Context, interval time.Duration, report func(error)) {
	if a.configPath == "" {
		return
	}
	stamp := func() string {
		st, err := os.Stat(a.configPath)
		if err != nil {
			return ""
		}
		return fmt.Sprint(st.ModTime().UnixNano(), st.Size(), st.Sys())
	}
	last := stamp()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := stamp(); now != last && now != "" {
			last = now
			report(a.Reload())
		}
	}
}

// Close releases the store.
func (a *App) Close() error { return a.Store.Close() }

// checkDataDir makes sure dir exists (creating it) and is writable, with a
// message that names the problem.
func checkDataDir(dir string) error {
	if dir == "" {
		return errors.New("data dir: not set (use --data DIR)")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data dir %s: cannot create: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data dir %s: not a directory", dir)
	}
	probe := filepath.Join(dir, ".cairn-write-probe")
	f, err := os.OpenFile(probe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("data dir %s: not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(probe)
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("data dir %s: not readable: %w", dir, err)
	}
	return nil
}

// rootCredentials takes the root keys from the options (environment), or
// from the data dir, or generates and persists them (mode 0600).
func rootCredentials(o Options) (RootCredentials, error) {
	if o.RootAccessKey != "" || o.RootSecretKey != "" {
		if o.RootAccessKey == "" || o.RootSecretKey == "" {
			return RootCredentials{}, errors.New("root credentials: set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY, or neither")
		}
		if len(o.RootSecretKey) < 8 {
			return RootCredentials{}, errors.New("root credentials: CAIRN_ROOT_SECRET_KEY must be at least 8 characters")
		}
		return RootCredentials{AccessKey: o.RootAccessKey, SecretKey: o.RootSecretKey, Source: "environment (CAIRN_ROOT_ACCESS_KEY, CAIRN_ROOT_SECRET_KEY)"}, nil
	}
	path := filepath.Join(o.DataDir, rootCredentialsFile)
	data, err := os.ReadFile(path)
	if err == nil {
		var rc RootCredentials
		if err := json.Unmarshal(data, &rc); err != nil || rc.AccessKey == "" || rc.SecretKey == "" {
			return rc, fmt.Errorf("root credentials %s: malformed; fix or delete it", path)
		}
		rc.Source = path
		return rc, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return RootCredentials{}, fmt.Errorf("root credentials %s: %w", path, err)
	}
	rc := RootCredentials{AccessKey: "AKIA" + randomString(16, upperDigits), SecretKey: randomString(40, secretChars), Source: path, Generated: true}
	data, _ = json.MarshalIndent(rc, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return rc, fmt.Errorf("root credentials %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return rc, fmt.Errorf("root credentials %s: %w", path, err)
	}
	return rc, nil
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		x, _ := rand.Int(rand.Reader, max)
		b[i] = alphabet[x.Int64()]
	}
	return string(b)
}
