// Command load is cairn's load generator: it signs its own requests (SigV4,
// signing key derived once a day), runs a fixed number of workers against
// one endpoint for a fixed time, and reports ops/s, MB/s and latency
// percentiles. With -baseline it also serves the same bytes from memory
// with a bare net/http handler on loopback and measures that the same way,
// so the two numbers come from one run on one machine.
//
// It only talks to loopback addresses: load runs stay on this machine.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/internal/sigv4"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:9000", "cairn endpoint (loopback only)")
	ak := flag.String("ak", os.Getenv("AWS_ACCESS_KEY_ID"), "access key")
	sk := flag.String("sk", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret key")
	op := flag.String("op", "get", "put, get or head")
	size := flag.Int("size", 4096, "object size in bytes")
	conc := flag.Int("c", 16, "concurrent workers")
	dur := flag.Duration("d", 10*time.Second, "duration")
	keys := flag.Int("keys", 64, "distinct keys (GET reads them round-robin; PUT writes them)")
	bucket := flag.String("bucket", "loadtest", "bucket (created if missing)")
	baseline := flag.Bool("baseline", false, "also measure a bare net/http handler serving the same bytes from memory")
	compareSession := flag.Bool("compare-session", false, "also run with temporary credentials (GetSessionToken of -ak) and report the ratio")
	rounds := flag.Int("rounds", 1, "with -compare-session: alternate static and session runs this many times and report the median ratio")
	flag.Parse()

	u, err := url.Parse(*endpoint)
	if err != nil {
		log.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		log.Fatalf("refusing non-loopback endpoint %s", *endpoint)
	}
	c := &client{endpoint: *endpoint, host: u.Host, ak: *ak, sk: *sk, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2, DisableCompression: true}}}
	body := make([]byte, *size)
	for i := range body {
		body[i] = byte(i * 31)
	}
	sum := sha256.Sum256(body)
	c.bodyHash = hex.EncodeToString(sum[:])
	c.do("PUT", "/"+*bucket, nil, true)
	if *op != "put" {
		for k := 0; k < *keys; k++ {
			if st := c.do("PUT", fmt.Sprintf("/%s/obj-%d", *bucket, k), body, true); st != 200 {
				log.Fatalf("seeding: status %d", st)
			}
		}
	}
	res := run(*conc, *dur, func(worker, i int) (int, int64) {
		key := fmt.Sprintf("/%s/obj-%d", *bucket, (worker*7919+i)%*keys)
		switch *op {
		case "put":
			return c.do("PUT", key, body, true), int64(len(body))
		case "head":
			return c.do("HEAD", key, nil, true), 0
		default:
			return c.do("GET", key, nil, true), int64(len(body))
		}
	})
	res.print(fmt.Sprintf("cairn %s %dB c=%d", *op, *size, *conc))

	if *compareSession {
		sc, err := c.sessionClient()
		if err != nil {
			log.Fatalf("GetSessionToken: %v", err)
		}
		with := func(cl *client) func(worker, i int) (int, int64) {
			return func(worker, i int) (int, int64) {
				key := fmt.Sprintf("/%s/obj-%d", *bucket, (worker*7919+i)%*keys)
				switch *op {
				case "put":
					return cl.do("PUT", key, body, true), int64(len(body))
				case "head":
					return cl.do("HEAD", key, nil, true), 0
				default:
					return cl.do("GET", key, nil, true), int64(len(body))
				}
			}
		}
		var ratios []float64
		for r := 0; r < *rounds; r++ {
			if r > 0 {
				res = run(*conc, *dur, with(c))
				res.print(fmt.Sprintf("cairn %s %dB c=%d", *op, *size, *conc))
			}
			sres := run(*conc, *dur, with(sc))
			sres.print(fmt.Sprintf("cairn %s %dB c=%d session", *op, *size, *conc))
			ratios = append(ratios, 100*sres.opsPerSec()/res.opsPerSec())
		}
		sort.Float64s(ratios)
		fmt.Printf("session/static ops ratio: median %.1f%% of %d rounds %v\n", ratios[len(ratios)/2], len(ratios), fmtRatios(ratios))
	}

	if *baseline && *op == "get" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Header().Set("ETag", `"x"`)
			w.Write(body)
		})}
		go srv.Serve(ln)
		b := &client{endpoint: "http://" + ln.Addr().String(), host: ln.Addr().String(), ak: *ak, sk: *sk, http: c.http}
		base := run(*conc, *dur, func(worker, i int) (int, int64) {
			return b.do("GET", fmt.Sprintf("/%s/obj-%d", *bucket, (worker*7919+i)%*keys), nil, true), int64(len(body))
		})
		base.print(fmt.Sprintf("bare net/http get %dB c=%d", *size, *conc))
		fmt.Printf("cairn/baseline ops ratio: %.1f%%\n", 100*res.opsPerSec()/base.opsPerSec())
		srv.Close()
	}
}

func fmtRatios(r []float64) string {
	s := make([]string, len(r))
	for i, x := range r {
		s[i] = fmt.Sprintf("%.1f%%", x)
	}
	return strings.Join(s, " ")
}

type client struct {
	endpoint, host, ak, sk string
	token                  string // session token, for temporary credentials
	http                   *http.Client
	bodyHash               string
	keyDate                atomic.Value // string date + key
}

type dayKey struct {
	date string
	key  []byte
}

// do sends one signed request and returns the status, reading the body.
func (c *client) do(method, path string, body []byte, sign bool) int {
	req, _ := http.NewRequest(method, c.endpoint+path, bytes.NewReader(body))
	if body == nil {
		req.Body = http.NoBody
	}
	if sign {
		c.sign(req, body)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (c *client) sign(req *http.Request, body []byte) {
	now := time.Now().UTC()
	amzDate := now.Format(sigv4.TimeFormat)
	date := amzDate[:8]
	// The body is the same for every request: its hash is computed once,
	// and the server verifies it as the SDKs over http make it do.
	ph := sigv4.EmptySHA256
	if len(body) > 0 {
		ph = c.bodyHash
	}
	dk, _ := c.keyDate.Load().(dayKey)
	if dk.date != date {
		dk = dayKey{date, sigv4.SigningKey(c.sk, date, "us-east-1", "s3")}
		c.keyDate.Store(dk)
	}
	signed := "host;x-amz-content-sha256;x-amz-date"
	cr := req.Method + "\n" + req.URL.EscapedPath() + "\n\nhost:" + c.host + "\nx-amz-content-sha256:" + ph + "\nx-amz-date:" + amzDate + "\n"
	if c.token != "" {
		signed += ";x-amz-security-token"
		cr += "x-amz-security-token:" + c.token + "\n"
		req.Header.Set("X-Amz-Security-Token", c.token)
	}
	cr += "\n" + signed + "\n" + ph
	scope := date + "/us-east-1/s3/aws4_request"
	sts := sigv4.StringToSign(amzDate, scope, []byte(cr))
	m := hmac.New(sha256.New, dk.key)
	m.Write(sts)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", ph)
	req.Header.Set("Authorization", sigv4.Algorithm+" Credential="+c.ak+"/"+scope+", SignedHeaders="+signed+", Signature="+hex.EncodeToString(m.Sum(nil)))
}

// sessionClient calls STS GetSessionToken with c's keys and returns a
// client that signs with the temporary credentials.
func (c *client) sessionClient() (*client, error) {
	body := "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=3600"
	req, _ := http.NewRequest("POST", c.endpoint+"/", strings.NewReader(body))
	now := time.Now().UTC()
	amzDate := now.Format(sigv4.TimeFormat)
	sum := sha256.Sum256([]byte(body))
	ph := hex.EncodeToString(sum[:])
	scope := amzDate[:8] + "/us-east-1/sts/aws4_request"
	cr := "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:" + c.host + "\nx-amz-date:" + amzDate +
		"\n\ncontent-type;host;x-amz-date\n" + ph
	m := hmac.New(sha256.New, sigv4.SigningKey(c.sk, amzDate[:8], "us-east-1", "sts"))
	m.Write(sigv4.StringToSign(amzDate, scope, []byte(cr)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("Authorization", sigv4.Algorithm+" Credential="+c.ak+"/"+scope+", SignedHeaders=content-type;host;x-amz-date, Signature="+hex.EncodeToString(m.Sum(nil)))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Creds struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
		} `xml:"GetSessionTokenResult>Credentials"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if err := xml.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &client{endpoint: c.endpoint, host: c.host, ak: out.Creds.AccessKeyID, sk: out.Creds.SecretAccessKey, token: out.Creds.SessionToken,
		http: c.http, bodyHash: c.bodyHash}, nil
}

type result struct {
	ops, errs int64
	bytes     int64
	elapsed   time.Duration
	lat       []time.Duration
}

func (r result) opsPerSec() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) print(name string) {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	pct := func(p float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[int(float64(len(r.lat)-1)*p)]
	}
	fmt.Printf("%-32s %9.0f ops/s %9.1f MB/s  p50 %-9v p99 %-9v errors %d\n", name, r.opsPerSec(),
		float64(r.bytes)/r.elapsed.Seconds()/1e6, pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), r.errs)
}

// run drives fn from conc workers for d and gathers the results.
func run(conc int, d time.Duration, fn func(worker, i int) (int, int64)) result {
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var local result
			for i := 0; time.Now().Before(deadline); i++ {
				t := time.Now()
				st, n := fn(w, i)
				local.lat = append(local.lat, time.Since(t))
				if st >= 200 && st < 300 {
					local.ops++
					local.bytes += n
				} else {
					local.errs++
				}
			}
			mu.Lock()
			total.ops += local.ops
			total.errs += local.errs
			total.bytes += local.bytes
			total.lat = append(total.lat, local.lat...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}
