// Package crash kills a real cairn process in the middle of concurrent
// writes and checks, after a restart, that every acknowledged object reads
// back byte-exact and that nothing partial is visible.
package crash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	ak = "AKIACRASHTEST0000000"
	sk = "crash-test-secret-000000000000"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cairn")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/cairn-io/cairn/cmd/cairn")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

var endpointRE = regexp.MustCompile(`S3 endpoint (http://[0-9.:]+)`)

// start runs the binary and returns it with its endpoint.
func start(t *testing.T, bin, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "server", "--listen", "127.0.0.1:0", "--data", dir)
	cmd.Env = append(os.Environ(), "CAIRN_ROOT_ACCESS_KEY="+ak, "CAIRN_ROOT_SECRET_KEY="+sk)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if m := endpointRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return cmd, m[1]
		}
	}
	t.Fatal("server did not print its endpoint")
	return nil, ""
}

func client(endpoint string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DialContext: (&net.Dialer{}).DialContext}}})
}

// bodyFor is the deterministic content of object i: small ones stay in
// the index, every fourth is a blob file.
func bodyFor(i int) []byte {
	size := 1 + (i*7919)%(60<<10)
	if i%4 == 0 {
		size = 1<<20 + i
	}
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(j*31 + i)
	}
	return b
}

func TestKill9DuringConcurrentPuts(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd, ep := start(t, bin, dir)
	c := client(ep)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("crash")}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var acked sync.Map // key -> ETag
	var nAcked atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: aws.String(fmt.Sprintf("obj/%03d", i)), Body: bytes.NewReader(bodyFor(i))})
			if err == nil {
				acked.Store(i, *out.ETag)
				nAcked.Add(1)
			}
		}(i)
	}
	// Kill once a part of the writes is acknowledged, while the rest are
	// in flight.
	began := time.Now()
	for nAcked.Load() < 40 && time.Since(began) < 30*time.Second {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()
	total := int(nAcked.Load())
	t.Logf("%d of %d PUTs acknowledged before kill -9", total, n)
	if total == n {
		t.Fatal("every PUT finished before the kill: the test proved nothing")
	}

	cmd, ep = start(t, bin, dir)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c = client(ep)
	acked.Range(func(k, v any) bool {
		i := k.(int)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(fmt.Sprintf("obj/%03d", i))})
		if err != nil {
			t.Errorf("acknowledged object %d lost: %v", i, err)
			return true
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(b, bodyFor(i)) || *out.ETag != v.(string) {
			t.Errorf("acknowledged object %d differs after restart (%d bytes)", i, len(b))
		}
		return true
	})
	// Whatever is listed is whole: either acknowledged, or finished just
	// before the kill without its answer reaching the client.
	listed := 0
	files := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("crash")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			listed++
			var i int
			fmt.Sscanf(strings.TrimPrefix(*o.Key, "obj/"), "%d", &i)
			want := bodyFor(i)
			sum := md5.Sum(want)
			if *o.Size != int64(len(want)) || *o.ETag != fmt.Sprintf(`"%x"`, sum) {
				t.Errorf("listed object %s is partial: size %d want %d", *o.Key, *o.Size, len(want))
			}
			if len(want) > 64<<10 {
				files++
			}
		}
	}
	if listed < total {
		t.Fatalf("listed %d objects, fewer than the %d acknowledged", listed, total)
	}
	// Blobs of writes that never committed were reclaimed at start.
	blobs := 0
	filepath.Walk(filepath.Join(dir, "blobs"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			blobs++
		}
		return nil
	})
	if blobs != files {
		t.Fatalf("%d blob files on disk for %d file-backed objects: garbage left behind", blobs, files)
	}
}

// SIGTERM during 50 uploads whose bodies are still arriving: the server
// stops accepting, lets them finish, and exits; every acknowledged object
// is whole after a restart and no partial object is visible.
func TestSIGTERMDuringUploads(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd, ep := start(t, bin, dir)
	c := client(ep)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("term")}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	const size = 256 << 10
	results := make(chan error, n)
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			pr, pw := io.Pipe()
			go func() {
				data := bodyFor(i)[:0]
				data = append(data, bytes.Repeat([]byte{byte(i)}, size)...)
				for off := 0; off < size; off += 32 << 10 {
					pw.Write(data[off : off+32<<10])
					if off == 0 {
						started <- struct{}{}
					}
					time.Sleep(100 * time.Millisecond) // about 800 ms per upload
				}
				pw.Close()
			}()
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/term/obj-%02d", ep, i), pr)
			req.ContentLength = size
			results <- signedDo(req)
		}(i)
	}
	for i := 0; i < n; i++ {
		<-started
	}
	// Wait until the server is serving all of them: a connection still in
	// the kernel's accept queue is not in flight, and closing the listener
	// refuses it (its client sees a reset, nothing was acknowledged).
	deadline := time.Now().Add(20 * time.Second)
	for inFlight(ep) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %v uploads in flight", inFlight(ep))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	// New connections are refused while the in-flight uploads finish.
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(ep, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("server still accepting after SIGTERM")
	}
	acked := 0
	for i := 0; i < n; i++ {
		if err := <-results; err == nil {
			acked++
		} else {
			t.Logf("upload failed: %v", err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exit: %v", err)
	}
	if acked != n {
		t.Fatalf("%d of %d in-flight uploads finished across SIGTERM", acked, n)
	}
	cmd, ep = start(t, bin, dir)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c = client(ep)
	for i := 0; i < n; i++ {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("term"), Key: aws.String(fmt.Sprintf("obj-%02d", i))})
		if err != nil {
			t.Fatalf("object %d lost: %v", i, err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, size)) {
			t.Fatalf("object %d is not whole (%d bytes)", i, len(b))
		}
	}
}

// inFlight reads cairn_requests_in_flight from the server's metrics.
func inFlight(ep string) float64 {
	resp, err := http.Get(ep + "/-/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "cairn_requests_in_flight "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// signedDo signs req with UNSIGNED-PAYLOAD and sends it.
func signedDo(req *http.Request) error {
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}
