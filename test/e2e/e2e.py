#!/usr/bin/env python3
"""End-to-end checks of a built cairn binary with the real clients:
boto3 (as installed, 1.43) and the aws cli (1.45).

Usage: python3 test/e2e/e2e.py PATH/TO/cairn PATH/TO/oidcfixture

It starts the binary on a free loopback port with a temporary data dir,
runs every check, stops the server and prints "N passed, M failed".
Each aws cli run gets its own HOME, as the cli caches state there.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

AK = "AKIAE2ETESTROOT00000"
SK = "e2e-root-secret-key-000000000000000000"
BUCKET = "e2e-bucket"

passed, failed = 0, 0


def check(name):
    def wrap(fn):
        def run(*a):
            global passed, failed
            try:
                fn(*a)
                passed += 1
                print(f"ok   {name}")
            except Exception:
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
        run.__name__ = fn.__name__
        return run
    return wrap


def eq(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def client_error(fn, code, status):
    try:
        fn()
    except ClientError as e:
        eq(e.response["Error"]["Code"], code, "error code")
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], status, "status")
        return
    raise AssertionError(f"expected {code}, got success")


WI_ROLE = "arn:aws:iam::000000000000:role/e2e-web"
WI_BUCKET = "wi-bucket"
WI_SUB = "system:serviceaccount:apps:uploader"


class Issuer:
    """The test OIDC issuer (test/oidcfixture) on loopback."""

    def __init__(self, fixture, tmp):
        self.proc = subprocess.Popen([fixture, "--dir", tmp], stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.url, self.ca_file, self.mint_url = info["issuer"], info["ca_file"], info["mint"]

    def token(self, sub=WI_SUB, aud="sts.amazonaws.com", extra=None):
        params = {"sub": sub, "aud": aud}
        if extra:
            params["extra"] = json.dumps(extra)
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.mint_url}?{q}") as r:
            return r.read().decode()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def config_for(issuer):
    host = issuer.url[len("https://"):]
    return f"""
oidc_providers:
  - url: {issuer.url}
    client_ids: [sts.amazonaws.com]
    ca_file: {issuer.ca_file}
roles:
  - name: e2e-web
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {{Federated: "arn:aws:iam::000000000000:oidc-provider/{host}"}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition:
            StringEquals: {{"{host}:aud": sts.amazonaws.com}}
            StringLike: {{"{host}:sub": "system:serviceaccount:apps:*"}}
    policies:
      - Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: ["s3:*"], Resource: ["arn:aws:s3:::{WI_BUCKET}", "arn:aws:s3:::{WI_BUCKET}/*"]}}
  - name: e2e-home
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {{Federated: "arn:aws:iam::000000000000:oidc-provider/{host}"}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition: {{StringEquals: {{"{host}:aud": sts.amazonaws.com}}}}
    policies:
      - Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::homes/${{{host}:sub}}/*"}}
          - {{Effect: Allow, Action: "s3:ListBucket", Resource: "arn:aws:s3:::homes", Condition: {{StringLike: {{"s3:prefix": "${{{host}:sub}}/*"}}}}}}
          - {{Effect: Allow, Action: ["s3:GetObject", "s3:PutObject", "s3:ListBucket"], Resource: ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"]}}
"""


def self_signed(tmp):
    """A certificate for 127.0.0.1, made with openssl."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class Server:
    def __init__(self, binary, config="", tls=False, env_extra=None, data=None):
        self.tmp = tempfile.mkdtemp(prefix="cairn-e2e-")
        env = dict(os.environ, CAIRN_ROOT_ACCESS_KEY=AK, CAIRN_ROOT_SECRET_KEY=SK, **(env_extra or {}))
        self.data = data or os.path.join(self.tmp, "data")
        args = [binary, "server", "--listen", "127.0.0.1:0", "--data", self.data]
        self.ca = None
        self.binary = binary
        self.config_path = None
        if tls:
            self.ca, key = self_signed(self.tmp)
            args += ["--tls-cert", self.ca, "--tls-key", key]
        if config:
            path = os.path.join(self.tmp, "cairn.yaml")
            with open(path, "w") as f:
                f.write(config)
            args += ["--config", path]
            self.config_path = path
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 20
        self.endpoint = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"S3 endpoint (https?://[0-9.:]+)", line)
            if m:
                self.endpoint = m.group(1)
                break
        if not self.endpoint:
            self.stop()
            raise SystemExit("cairn did not start")
        # Drain the server's log so that it never blocks on a full pipe.
        self.log = os.path.join(self.tmp, "cairn.log")
        def drain(stream, path):
            with open(path, "w") as f:
                for line in stream:
                    f.write(line)
        threading.Thread(target=drain, args=(self.proc.stderr, self.log), daemon=True).start()

    def stop(self, keep=False):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def aws(srv, *args, check_rc=True):
    """Run the aws cli with its own HOME and the root credentials."""
    home = tempfile.mkdtemp(prefix="awshome-", dir=srv.tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=home, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_DEFAULT_REGION="us-east-1")
    p = subprocess.run(["aws", "--endpoint-url", srv.endpoint, "--only-show-errors" if args[0] == "s3" and args[1] in ("cp", "sync", "mv", "rm") and "--dryrun" not in args else "--output=json"] + list(args),
                       capture_output=True, text=True, env=env, timeout=300)
    if check_rc and p.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


AWKWARD = ["plain.txt", "with space.txt", "plus+sign.txt", "percent%20.txt", "unicode-é漢字.txt",
           "dir/nested/deep.txt", "dir/a", "dir/a b/c", "tilde~.txt", "semi;colon.txt", "equals=.txt",
           "amp&ersand.txt", "quote'.txt", "paren(1).txt", "brackets[1].txt", "dollar$.txt", "at@.txt"]


def main():
    binary, fixture = sys.argv[1], sys.argv[2]
    fixture_tmp = tempfile.mkdtemp(prefix="oidc-e2e-")
    issuer = Issuer(fixture, fixture_tmp)
    srv = Server(binary, config_for(issuer))
    tls = Server(binary, tls=True)
    try:
        run_all(srv)
        run_web_identity(srv, issuer)
        run_tls(tls)
        run_presigned(srv)
        run_policies(srv, issuer)
        run_iam(binary, srv, issuer)
    finally:
        srv.stop()
        tls.stop()
        issuer.stop()
        shutil.rmtree(fixture_tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def run_all(srv):
    os.environ.pop("AWS_CA_BUNDLE", None)  # plain http
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                      region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
    work = tempfile.mkdtemp(dir=srv.tmp)

    @check("aws s3 mb and ls")
    def mb():
        aws(srv, "s3", "mb", f"s3://{BUCKET}")
        out = aws(srv, "s3", "ls").stdout
        assert BUCKET in out, out
    mb()

    @check("aws s3 cp 1 KiB up and down")
    def cp_small():
        src = os.path.join(work, "small.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(1024))
        aws(srv, "s3", "cp", src, f"s3://{BUCKET}/small.bin")
        dst = os.path.join(work, "small.out")
        aws(srv, "s3", "cp", f"s3://{BUCKET}/small.bin", dst)
        eq(sha(dst), sha(src), "1 KiB round trip")
    cp_small()

    @check("aws s3 cp 50 MiB (multipart) up and down")
    def cp_big():
        src = os.path.join(work, "big.bin")
        with open(src, "wb") as f:
            for _ in range(50):
                f.write(os.urandom(1 << 20))
        aws(srv, "s3", "cp", src, f"s3://{BUCKET}/big.bin")
        head = s3.head_object(Bucket=BUCKET, Key="big.bin")
        eq(head["ContentLength"], 50 << 20, "size")
        assert re.fullmatch(r'"[0-9a-f]{32}-\d+"', head["ETag"]), f"not a multipart ETag: {head['ETag']}"
        dst = os.path.join(work, "big.out")
        aws(srv, "s3", "cp", f"s3://{BUCKET}/big.bin", dst)
        eq(sha(dst), sha(src), "50 MiB round trip")
    cp_big()

    @check("aws s3 sync of awkward key names, ls --recursive")
    def sync():
        tree = os.path.join(work, "tree")
        for name in AWKWARD:
            p = os.path.join(tree, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write("content of " + name)
        aws(srv, "s3", "sync", tree, f"s3://{BUCKET}/tree/")
        out = aws(srv, "s3", "ls", "--recursive", f"s3://{BUCKET}/tree/").stdout
        listed = sorted(line.split(None, 3)[3] for line in out.splitlines() if line.strip())
        eq(listed, sorted("tree/" + n for n in AWKWARD), "listed keys")
        for name in AWKWARD:
            body = s3.get_object(Bucket=BUCKET, Key="tree/" + name)["Body"].read()
            eq(body, ("content of " + name).encode(), name)
        back = os.path.join(work, "back")
        aws(srv, "s3", "sync", f"s3://{BUCKET}/tree/", back)
        for name in AWKWARD:
            with open(os.path.join(back, name)) as f:
                eq(f.read(), "content of " + name, "synced back " + name)
        # A second sync would upload nothing (sizes and times match), and
        # a changed file would be uploaded.
        out = aws(srv, "s3", "sync", "--dryrun", tree, f"s3://{BUCKET}/tree/").stdout
        eq(out.strip(), "", "second sync output")
        with open(os.path.join(tree, "plain.txt"), "a") as f:
            f.write(" changed")
        out = aws(srv, "s3", "sync", "--dryrun", tree, f"s3://{BUCKET}/tree/").stdout
        assert "(dryrun) upload:" in out and "plain.txt" in out, out
        with open(os.path.join(tree, "plain.txt"), "w") as f:
            f.write("content of plain.txt")
    sync()

    @check("aws s3api conditional GET (If-None-Match -> 304, If-Match -> 412)")
    def conditional():
        etag = s3.head_object(Bucket=BUCKET, Key="small.bin")["ETag"]
        p = aws(srv, "s3api", "get-object", "--bucket", BUCKET, "--key", "small.bin", "--if-none-match", etag,
                os.path.join(work, "cond.out"), check_rc=False)
        assert p.returncode != 0 and "304" in p.stderr, p.stderr
        p = aws(srv, "s3api", "get-object", "--bucket", BUCKET, "--key", "small.bin", "--if-match", '"00000000000000000000000000000000"',
                os.path.join(work, "cond.out"), check_rc=False)
        assert p.returncode != 0 and "PreconditionFailed" in p.stderr, p.stderr
        p = aws(srv, "s3api", "get-object", "--bucket", BUCKET, "--key", "small.bin", "--if-match", etag, os.path.join(work, "cond.out"))
        eq(sha(os.path.join(work, "cond.out")), sha(os.path.join(work, "small.bin")), "If-Match body")
    conditional()

    @check("aws s3api range GET")
    def range_get():
        out = os.path.join(work, "range.out")
        p = aws(srv, "s3api", "get-object", "--bucket", BUCKET, "--key", "small.bin", "--range", "bytes=100-199", out)
        assert '"ContentRange": "bytes 100-199/1024"' in p.stdout, p.stdout
        with open(os.path.join(work, "small.bin"), "rb") as f:
            want = f.read()[100:200]
        with open(out, "rb") as f:
            eq(f.read(), want, "range bytes")
    range_get()

    @check("aws s3api copy-object and tagging")
    def copy_and_tags():
        aws(srv, "s3api", "copy-object", "--bucket", BUCKET, "--key", "copy.bin", "--copy-source", f"{BUCKET}/small.bin",
            "--tagging-directive", "REPLACE", "--tagging", "team=storage&env=test")
        eq(s3.get_object(Bucket=BUCKET, Key="copy.bin")["Body"].read(), s3.get_object(Bucket=BUCKET, Key="small.bin")["Body"].read(), "copy bytes")
        aws(srv, "s3api", "put-object-tagging", "--bucket", BUCKET, "--key", "copy.bin", "--tagging", "TagSet=[{Key=stage,Value=two}]")
        p = aws(srv, "s3api", "get-object-tagging", "--bucket", BUCKET, "--key", "copy.bin")
        assert '"Key": "stage"' in p.stdout and '"Value": "two"' in p.stdout, p.stdout
        aws(srv, "s3api", "delete-object-tagging", "--bucket", BUCKET, "--key", "copy.bin")
        eq(s3.get_object_tagging(Bucket=BUCKET, Key="copy.bin")["TagSet"], [], "tags after delete")
    copy_and_tags()

    @check("aws s3api delete-objects")
    def delete_objects():
        for k in ("d/1", "d/2", "d/3"):
            s3.put_object(Bucket=BUCKET, Key=k, Body=b"x")
        p = aws(srv, "s3api", "delete-objects", "--bucket", BUCKET, "--delete", "Objects=[{Key=d/1},{Key=d/2},{Key=d/3}],Quiet=false")
        for k in ("d/1", "d/2", "d/3"):
            assert f'"Key": "{k}"' in p.stdout, p.stdout
        eq(s3.list_objects_v2(Bucket=BUCKET, Prefix="d/")["KeyCount"], 0, "left after delete-objects")
    delete_objects()

    @check("boto3 put/get with metadata, list v1/v2 with delimiter, errors")
    def boto3_basics():
        s3.put_object(Bucket=BUCKET, Key="meta/obj", Body=b"hello", ContentType="text/plain", Metadata={"a": "1"})
        r = s3.get_object(Bucket=BUCKET, Key="meta/obj")
        eq(r["Body"].read(), b"hello", "body")
        eq(r["ContentType"], "text/plain", "content type")
        eq(r["Metadata"], {"a": "1"}, "metadata")
        lst = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/", Prefix="tree/")
        eq(sorted(p["Prefix"] for p in lst["CommonPrefixes"]), ["tree/dir/"], "common prefixes")
        v1 = s3.list_objects(Bucket=BUCKET, Prefix="tree/dir/", Delimiter="/")
        eq(sorted(p["Prefix"] for p in v1["CommonPrefixes"]), ["tree/dir/a b/", "tree/dir/nested/"], "v1 prefixes")
        client_error(lambda: s3.get_object(Bucket=BUCKET, Key="nope"), "NoSuchKey", 404)
        client_error(lambda: s3.head_object(Bucket=BUCKET, Key="nope"), "404", 404)
        client_error(lambda: s3.create_bucket(Bucket="Invalid_Name"), "InvalidBucketName", 400)
        client_error(lambda: s3.delete_bucket(Bucket=BUCKET), "BucketNotEmpty", 409)
        bad = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key="wrong",
                           region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
        client_error(lambda: bad.list_buckets(), "SignatureDoesNotMatch", 403)
    boto3_basics()

    @check("boto3 multipart with parts listed and aborted")
    def boto3_multipart():
        up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/obj")
        part = os.urandom(5 << 20)
        r1 = s3.upload_part(Bucket=BUCKET, Key="mp/obj", UploadId=up["UploadId"], PartNumber=1, Body=part)
        r2 = s3.upload_part(Bucket=BUCKET, Key="mp/obj", UploadId=up["UploadId"], PartNumber=2, Body=b"tail")
        eq(len(s3.list_parts(Bucket=BUCKET, Key="mp/obj", UploadId=up["UploadId"])["Parts"]), 2, "parts")
        parts = [{"PartNumber": 1, "ETag": r1["ETag"]}, {"PartNumber": 2, "ETag": r2["ETag"]}]
        for p, r in zip(parts, (r1, r2)):
            if "ChecksumCRC32" in r:
                p["ChecksumCRC32"] = r["ChecksumCRC32"]
        s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/obj", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
        eq(s3.get_object(Bucket=BUCKET, Key="mp/obj")["Body"].read(), part + b"tail", "assembled")
        up2 = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/aborted")
        s3.upload_part(Bucket=BUCKET, Key="mp/aborted", UploadId=up2["UploadId"], PartNumber=1, Body=b"x")
        eq([u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])], [up2["UploadId"]], "uploads")
        s3.abort_multipart_upload(Bucket=BUCKET, Key="mp/aborted", UploadId=up2["UploadId"])
        client_error(lambda: s3.list_parts(Bucket=BUCKET, Key="mp/aborted", UploadId=up2["UploadId"]), "NoSuchUpload", 404)
    boto3_multipart()

    @check("anonymous GET is refused")
    def anonymous():
        try:
            urllib.request.urlopen(f"{srv.endpoint}/{BUCKET}/small.bin")
            raise AssertionError("anonymous GET succeeded")
        except urllib.error.HTTPError as e:
            eq(e.code, 403, "status")
            assert b"<Code>AccessDenied</Code>" in e.read()
    anonymous()

    @check("aws s3 rm --recursive empties the bucket, rb removes it")
    def rm():
        aws(srv, "s3", "rm", "--recursive", f"s3://{BUCKET}/")
        eq(s3.list_objects_v2(Bucket=BUCKET)["KeyCount"], 0, "objects left")
        aws(srv, "s3", "rb", f"s3://{BUCKET}")
        client_error(lambda: s3.head_bucket(Bucket=BUCKET), "404", 404)
    rm()


def web_identity_env(srv, token, home):
    """The environment of a workload that holds only an OIDC token file."""
    path = os.path.join(home, "token")
    with open(path, "w") as f:
        f.write(token + "\n")  # as Kubernetes projects it
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=home, AWS_WEB_IDENTITY_TOKEN_FILE=path, AWS_ROLE_ARN=WI_ROLE, AWS_ROLE_SESSION_NAME="e2e-cli",
               AWS_ENDPOINT_URL_STS=srv.endpoint, AWS_DEFAULT_REGION="us-east-1")
    return env


def run_web_identity(srv, issuer):
    root = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1")
    root.create_bucket(Bucket=WI_BUCKET)

    @check("boto3 default chain with AWS_WEB_IDENTITY_TOKEN_FILE: put, get, list, multipart, presigned GET by curl")
    def boto3_web_identity():
        home = tempfile.mkdtemp(dir=srv.tmp)
        env = web_identity_env(srv, issuer.token(), home)
        saved = dict(os.environ)
        try:
            for k in list(os.environ):
                if k.startswith("AWS_"):
                    del os.environ[k]
            os.environ.update(env)
            session = boto3.Session()
            creds = session.get_credentials().get_frozen_credentials()
            assert creds.access_key.startswith("ASIA") and creds.token, creds.access_key
            sts = session.client("sts")
            who = sts.get_caller_identity()
            eq(who["Arn"], "arn:aws:sts::000000000000:assumed-role/e2e-web/e2e-cli", "caller")
            s3 = session.client("s3", endpoint_url=srv.endpoint, config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
            s3.put_object(Bucket=WI_BUCKET, Key="wi/hello.txt", Body=b"hello from a pod")
            eq(s3.get_object(Bucket=WI_BUCKET, Key="wi/hello.txt")["Body"].read(), b"hello from a pod", "get")
            eq([o["Key"] for o in s3.list_objects_v2(Bucket=WI_BUCKET, Prefix="wi/")["Contents"]], ["wi/hello.txt"], "list")
            big = os.path.join(home, "big.bin")
            with open(big, "wb") as f:
                f.write(os.urandom(12 << 20))
            from boto3.s3.transfer import TransferConfig
            s3.upload_file(big, WI_BUCKET, "wi/big.bin", Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
            head = s3.head_object(Bucket=WI_BUCKET, Key="wi/big.bin")
            assert head["ETag"].endswith('-3"'), head["ETag"]
            url = s3.generate_presigned_url("get_object", Params={"Bucket": WI_BUCKET, "Key": "wi/hello.txt"}, ExpiresIn=300)
            assert "X-Amz-Security-Token=" in url, url
            out = subprocess.run(["curl", "-sS", "-f", url], capture_output=True, timeout=30)
            eq(out.returncode, 0, "curl exit: " + out.stderr.decode())
            eq(out.stdout, b"hello from a pod", "presigned body")
            client_error(lambda: s3.create_bucket(Bucket="not-allowed"), "AccessDenied", 403)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    boto3_web_identity()

    @check("aws cli with AWS_WEB_IDENTITY_TOKEN_FILE: sts get-caller-identity, s3 cp, ls")
    def cli_web_identity():
        home = tempfile.mkdtemp(dir=srv.tmp)
        env = web_identity_env(srv, issuer.token(), home)
        def cli(*args):
            p = subprocess.run(["aws"] + list(args), capture_output=True, text=True, env=env, timeout=120)
            if p.returncode != 0:
                raise AssertionError(f"aws {' '.join(args)}: {p.stderr}")
            return p.stdout
        out = cli("sts", "get-caller-identity", "--output", "json")
        assert "assumed-role/e2e-web/e2e-cli" in out, out
        src = os.path.join(home, "f.txt")
        with open(src, "w") as f:
            f.write("cli upload")
        cli("--endpoint-url", srv.endpoint, "s3", "cp", "--only-show-errors", src, f"s3://{WI_BUCKET}/cli/f.txt")
        out = cli("--endpoint-url", srv.endpoint, "s3", "ls", f"s3://{WI_BUCKET}/cli/")
        assert "f.txt" in out, out
        eq(root.get_object(Bucket=WI_BUCKET, Key="cli/f.txt")["Body"].read(), b"cli upload", "cli object")
    cli_web_identity()

    @check("a wrong audience is InvalidIdentityToken, an outsider's sub is AccessDenied")
    def refused():
        sts = boto3.client("sts", endpoint_url=srv.endpoint, region_name="us-east-1",
                           config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))
        client_error(lambda: sts.assume_role_with_web_identity(RoleArn=WI_ROLE, RoleSessionName="x1", WebIdentityToken=issuer.token(aud="nope")),
                     "InvalidIdentityToken", 400)
        client_error(lambda: sts.assume_role_with_web_identity(RoleArn=WI_ROLE, RoleSessionName="x1", WebIdentityToken=issuer.token(sub="system:serviceaccount:other:x")),
                     "AccessDenied", 403)
    refused()


def run_tls(srv):
    """Over HTTPS the SDKs stream aws-chunked bodies with checksum trailers."""
    def client(calc=None):
        cfg = Config(retries={"max_attempts": 1}, request_checksum_calculation=calc or "when_supported")
        return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                            region_name="us-east-1", verify=srv.ca, config=cfg)
    s3 = client()
    s3.create_bucket(Bucket="tls-bucket")
    work = tempfile.mkdtemp(dir=srv.tmp)

    @check("boto3 over HTTPS, defaults (aws-chunked + CRC32 trailer): put, multipart upload_file, validated get")
    def boto3_https():
        body = os.urandom(3 << 20)
        r = s3.put_object(Bucket="tls-bucket", Key="t/one", Body=body)
        assert "ChecksumCRC32" in r, r
        g = s3.get_object(Bucket="tls-bucket", Key="t/one")  # boto3 validates the returned CRC32
        eq(g["Body"].read(), body, "get")
        eq(g.get("ContentEncoding"), None, "aws-chunked must not be stored")
        big = os.path.join(work, "big")
        with open(big, "wb") as f:
            f.write(os.urandom(13 << 20))
        from boto3.s3.transfer import TransferConfig
        s3.upload_file(big, "tls-bucket", "t/big", Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
        head = s3.head_object(Bucket="tls-bucket", Key="t/big", ChecksumMode="ENABLED")
        assert head["ETag"].endswith('-3"') and head.get("ChecksumCRC32", "").endswith("-3"), head
        out = os.path.join(work, "big.out")
        s3.download_file("tls-bucket", "t/big", out)
        eq(sha(out), sha(big), "multipart round trip")
        r = s3.get_object(Bucket="tls-bucket", Key="t/one", Range="bytes=10-19")
        eq(r["Body"].read(), body[10:20], "range over https")
    boto3_https()

    @check("boto3 over HTTPS with request_checksum_calculation=when_required")
    def boto3_when_required():
        c = client("when_required")
        c.put_object(Bucket="tls-bucket", Key="t/req", Body=b"when required")
        eq(c.get_object(Bucket="tls-bucket", Key="t/req")["Body"].read(), b"when required", "get")
    boto3_when_required()

    def cli(extra_env, *args):
        home = tempfile.mkdtemp(dir=srv.tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_DEFAULT_REGION="us-east-1", AWS_CA_BUNDLE=srv.ca, **extra_env)
        p = subprocess.run(["aws", "--endpoint-url", srv.endpoint] + list(args), capture_output=True, text=True, env=env, timeout=300)
        if p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)}: {p.stderr}")
        return p.stdout

    @check("aws cli over HTTPS: s3 cp 20 MiB up and down, defaults and when_required")
    def cli_https():
        src = os.path.join(work, "cli.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(20 << 20))
        for i, extra in enumerate([{}, {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required"}]):
            cli(extra, "s3", "cp", "--only-show-errors", src, f"s3://tls-bucket/cli/{i}.bin")
            dst = os.path.join(work, f"cli{i}.out")
            cli(extra, "s3", "cp", "--only-show-errors", f"s3://tls-bucket/cli/{i}.bin", dst)
            eq(sha(dst), sha(src), f"cli round trip {extra}")
        out = cli({}, "s3api", "put-object", "--bucket", "tls-bucket", "--key", "cli/api", "--body", src, "--output", "json")
        assert "ChecksumCRC32" in out, out
    cli_https()

    @check("presigned GET and PUT over HTTPS with curl")
    def presigned_https():
        c = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
                         verify=srv.ca, config=Config(signature_version="s3v4"))
        put_url = c.generate_presigned_url("put_object", Params={"Bucket": "tls-bucket", "Key": "pre/up"}, ExpiresIn=300)
        src = os.path.join(work, "pre.txt")
        with open(src, "w") as f:
            f.write("uploaded by curl")
        p = subprocess.run(["curl", "-sS", "-f", "--cacert", srv.ca, "-X", "PUT", "--upload-file", src, put_url], capture_output=True, timeout=30)
        eq(p.returncode, 0, "curl PUT: " + p.stderr.decode())
        get_url = c.generate_presigned_url("get_object", Params={"Bucket": "tls-bucket", "Key": "pre/up"}, ExpiresIn=300)
        p = subprocess.run(["curl", "-sS", "-f", "--cacert", srv.ca, get_url], capture_output=True, timeout=30)
        eq(p.stdout, b"uploaded by curl", "curl GET")
    presigned_https()


def run_presigned(srv):
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1",
                      config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="pre-bucket")

    @check("presigned PUT and GET with urllib; expired and tampered URLs refused; SigV2 presign refused")
    def presigned():
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "pre-bucket", "Key": "u/x y.txt"}, ExpiresIn=60)
        req = urllib.request.Request(put_url, data=b"via urllib", method="PUT")
        with urllib.request.urlopen(req) as r:
            eq(r.status, 200, "PUT status")
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre-bucket", "Key": "u/x y.txt"}, ExpiresIn=60)
        with urllib.request.urlopen(get_url) as r:
            eq(r.read(), b"via urllib", "GET body")
        def refused(url, code, status):
            try:
                urllib.request.urlopen(url)
            except urllib.error.HTTPError as e:
                eq(e.code, status, "status")
                body = e.read().decode()
                assert f"<Code>{code}</Code>" in body, body
                return
            raise AssertionError("accepted")
        refused(get_url.replace("X-Amz-Expires=60", "X-Amz-Expires=61"), "SignatureDoesNotMatch", 403)
        expired = s3.generate_presigned_url("get_object", Params={"Bucket": "pre-bucket", "Key": "u/x y.txt"}, ExpiresIn=1)
        time.sleep(2)
        refused(expired, "AccessDenied", 403)
        v2 = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1")
        v2_url = v2.generate_presigned_url("get_object", Params={"Bucket": "pre-bucket", "Key": "u/x y.txt"})
        assert "AWSAccessKeyId=" in v2_url, v2_url  # boto3's SigV2 default for us-east-1
        refused(v2_url, "InvalidRequest", 400)
    presigned()


def assume(srv, issuer, role, **token_args):
    sts = boto3.client("sts", endpoint_url=srv.endpoint, region_name="us-east-1",
                       config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))
    c = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="e2e-policy", WebIdentityToken=issuer.token(**token_args))["Credentials"]
    return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"], region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def run_policies(srv, issuer):
    root = boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK, region_name="us-east-1")
    for b in ("homes", "pub-bucket", "tls-only"):
        root.create_bucket(Bucket=b)
    home_role = "arn:aws:iam::000000000000:role/e2e-home"

    @check("web-identity role limited to ${sub}: own prefix works, elsewhere AccessDenied, root listing denied by s3:prefix")
    def home():
        s3 = assume(srv, issuer, home_role, sub="alice")
        s3.put_object(Bucket="homes", Key="alice/notes.txt", Body=b"mine")
        eq(s3.get_object(Bucket="homes", Key="alice/notes.txt")["Body"].read(), b"mine", "own object")
        eq([o["Key"] for o in s3.list_objects_v2(Bucket="homes", Prefix="alice/")["Contents"]], ["alice/notes.txt"], "own listing")
        client_error(lambda: s3.put_object(Bucket="homes", Key="bob/x", Body=b"x"), "AccessDenied", 403)
        client_error(lambda: s3.list_objects_v2(Bucket="homes", Prefix="bob/"), "AccessDenied", 403)
        client_error(lambda: s3.list_objects_v2(Bucket="homes"), "AccessDenied", 403)
        # A sub with wildcards matches literally, not as a pattern.
        star = assume(srv, issuer, home_role, sub="*")
        client_error(lambda: star.get_object(Bucket="homes", Key="alice/notes.txt"), "AccessDenied", 403)
    home()

    @check("public-read bucket policy: anonymous curl GET works, nothing else does")
    def public():
        root.put_object(Bucket="pub-bucket", Key="www/index.html", Body=b"<p>public</p>")
        root.put_object(Bucket="pub-bucket", Key="private/x", Body=b"secret")
        root.put_bucket_policy(Bucket="pub-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pub-bucket/www/*"}]}))
        out = subprocess.run(["curl", "-sS", "-f", f"{srv.endpoint}/pub-bucket/www/index.html"], capture_output=True, timeout=30)
        eq(out.stdout, b"<p>public</p>", "anonymous GET")
        for method, path in [("GET", "/pub-bucket/private/x"), ("GET", "/pub-bucket"), ("PUT", "/pub-bucket/www/evil.html"), ("DELETE", "/pub-bucket/www/index.html")]:
            out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--data-binary", "x" if method == "PUT" else "",
                                  f"{srv.endpoint}{path}"] if method == "PUT" else
                                 ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, f"{srv.endpoint}{path}"], capture_output=True, timeout=30)
            eq(out.stdout, b"403", f"anonymous {method} {path}")
    public()

    @check("TLS-only bucket policy denies plain HTTP even for a token claiming aws:SecureTransport=true")
    def tls_only():
        root.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        s3 = assume(srv, issuer, home_role, sub="mallory", extra={"aws:SecureTransport": "true", "SecureTransport": "true"})
        client_error(lambda: s3.put_object(Bucket="tls-only", Key="x", Body=b"x"), "AccessDenied", 403)
        client_error(lambda: s3.list_objects_v2(Bucket="tls-only"), "AccessDenied", 403)
    tls_only()

    @check("cairn role revoke-sessions + SIGHUP: the next request of an older session is denied, a new session works")
    def revoke():
        s3 = assume(srv, issuer, home_role, sub="carol")
        s3.put_object(Bucket="homes", Key="carol/a", Body=b"a")
        time.sleep(1.1)  # sessions carry whole-second issue times
        p = subprocess.run([srv.binary, "role", "revoke-sessions", "--config", srv.config_path, "e2e-home"], capture_output=True, text=True)
        eq(p.returncode, 0, "revoke: " + p.stderr)
        p = subprocess.run([srv.binary, "role", "revocations", "--config", srv.config_path], capture_output=True, text=True)
        assert "e2e-home" in p.stdout, p.stdout
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                s3.get_object(Bucket="homes", Key="carol/a")
                time.sleep(0.1)
            except ClientError as e:
                eq(e.response["Error"]["Code"], "AccessDenied", "after revocation")
                break
        else:
            raise AssertionError("old session still works after revocation and SIGHUP")
        time.sleep(1.1)
        fresh = assume(srv, issuer, home_role, sub="carol")
        eq(fresh.get_object(Bucket="homes", Key="carol/a")["Body"].read(), b"a", "new session")
    revoke()


def run_iam(binary, main_srv, issuer):
    """aws iam against a server without a config file: everything is created
    through the API. The server trusts the test issuer's CA through
    SSL_CERT_FILE, as a provider created by the API has no ca_file."""
    data = tempfile.mkdtemp(prefix="cairn-iam-")
    srv = Server(binary, env_extra={"SSL_CERT_FILE": issuer.ca_file}, data=data)
    servers = [srv]

    def iam(*args, check_rc=True):
        home = tempfile.mkdtemp(dir=srv.tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_DEFAULT_REGION="us-east-1")
        p = subprocess.run(["aws", "--endpoint-url", srv.endpoint, "--output", "json", "iam"] + list(args), capture_output=True, text=True, env=env, timeout=120)
        if check_rc and p.returncode != 0:
            raise AssertionError(f"aws iam {' '.join(args)}: {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else p

    def s3_for(ak, sk, token=None):
        return boto3.client("s3", endpoint_url=srv.endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, aws_session_token=token,
                            region_name="us-east-1", config=Config(retries={"max_attempts": 1}))

    try:
        root = s3_for(AK, SK)
        root.create_bucket(Bucket="iam-bucket")

        @check("aws iam: create a user, an access key and a policy, attach it; the key works with boto3 within the policy")
        def users():
            eq(iam("create-user", "--user-name", "dave")["User"]["UserName"], "dave", "create-user")
            key = iam("create-access-key", "--user-name", "dave")["AccessKey"]
            assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40, key
            doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                              "Resource": ["arn:aws:s3:::iam-bucket", "arn:aws:s3:::iam-bucket/*"]}]})
            arn = iam("create-policy", "--policy-name", "dave-rw", "--policy-document", doc)["Policy"]["Arn"]
            eq(arn, "arn:aws:iam::000000000000:policy/dave-rw", "policy arn")
            iam("attach-user-policy", "--user-name", "dave", "--policy-arn", arn)
            eq([p["PolicyArn"] for p in iam("list-attached-user-policies", "--user-name", "dave")["AttachedPolicies"]], [arn], "attached")
            eq([u["UserName"] for u in iam("list-users")["Users"]], ["dave"], "list-users")
            eq(iam("get-policy-version", "--policy-arn", arn, "--version-id", "v1")["PolicyVersion"]["Document"]["Statement"][0]["Action"], "s3:*", "policy document")
            dave = s3_for(key["AccessKeyId"], key["SecretAccessKey"])
            dave.put_object(Bucket="iam-bucket", Key="d/x", Body=b"from dave")
            eq(dave.get_object(Bucket="iam-bucket", Key="d/x")["Body"].read(), b"from dave", "dave get")
            client_error(lambda: dave.list_buckets(), "AccessDenied", 403)
            iam("put-user-policy", "--user-name", "dave", "--policy-name", "list", "--policy-document",
                json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
            dave.list_buckets()
            eq(iam("list-user-policies", "--user-name", "dave")["PolicyNames"], ["list"], "inline policies")
            users.key = key
            users.arn = arn
        users()

        @check("aws iam: API-created identities persist across a restart and cairn iam show lists them")
        def persist():
            nonlocal srv
            srv.stop(keep=True)
            out = subprocess.run([binary, "iam", "show", "--data", data], capture_output=True, text=True)
            assert out.returncode == 0 and "user dave" in out.stdout and "policy dave-rw" in out.stdout, out.stdout + out.stderr
            srv = Server(binary, env_extra={"SSL_CERT_FILE": issuer.ca_file}, data=data)
            servers.append(srv)
            dave = s3_for(users.key["AccessKeyId"], users.key["SecretAccessKey"])
            eq(dave.get_object(Bucket="iam-bucket", Key="d/x")["Body"].read(), b"from dave", "after restart")
            eq(iam("get-user", "--user-name", "dave")["User"]["Arn"], "arn:aws:iam::000000000000:user/dave", "get-user")
        persist()

        @check("aws iam: create an OIDC provider and a role with a trust policy, assume it with a token, use S3")
        def roles():
            arn = iam("create-open-id-connect-provider", "--url", issuer.url, "--client-id-list", "sts.amazonaws.com",
                      "--thumbprint-list", "0" * 40)["OpenIDConnectProviderArn"]
            host = issuer.url[len("https://"):]
            eq(arn, f"arn:aws:iam::000000000000:oidc-provider/{host}", "provider arn")
            trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                                "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com"}}}]})
            iam("create-role", "--role-name", "wi", "--assume-role-policy-document", trust)
            iam("put-role-policy", "--role-name", "wi", "--policy-name", "rw", "--policy-document",
                json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::iam-bucket/wi/*"}]}))
            eq(iam("get-role", "--role-name", "wi")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"], arn, "get-role trust")
            s3 = assume(srv, issuer, "arn:aws:iam::000000000000:role/wi")
            s3.put_object(Bucket="iam-bucket", Key="wi/y", Body=b"from a token")
            client_error(lambda: s3.put_object(Bucket="iam-bucket", Key="other/y", Body=b"x"), "AccessDenied", 403)
            p = iam("create-role", "--role-name", "wi", "--assume-role-policy-document", trust, check_rc=False)
            assert p.returncode != 0 and "EntityAlreadyExists" in p.stderr, p.stderr
            p = iam("put-role-policy", "--role-name", "wi", "--policy-name", "bad", "--policy-document", '{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringFoo":{"a:b":"c"}}}]}', check_rc=False)
            assert p.returncode != 0 and "MalformedPolicyDocument" in p.stderr, p.stderr
        roles()

        @check("aws iam: deleting the role, the policy and the user ends their access")
        def deletes():
            p = iam("delete-user", "--user-name", "dave", check_rc=False)
            assert p.returncode != 0 and "DeleteConflict" in p.stderr, p.stderr
            iam("delete-role-policy", "--role-name", "wi", "--policy-name", "rw")
            iam("delete-role", "--role-name", "wi")
            client_error(lambda: assume(srv, issuer, "arn:aws:iam::000000000000:role/wi"), "AccessDenied", 403)
            iam("detach-user-policy", "--user-name", "dave", "--policy-arn", users.arn)
            iam("delete-policy", "--policy-arn", users.arn)
            iam("delete-user-policy", "--user-name", "dave", "--policy-name", "list")
            iam("delete-access-key", "--user-name", "dave", "--access-key-id", users.key["AccessKeyId"])
            iam("delete-user", "--user-name", "dave")
            dave = s3_for(users.key["AccessKeyId"], users.key["SecretAccessKey"])
            client_error(lambda: dave.get_object(Bucket="iam-bucket", Key="d/x"), "InvalidAccessKeyId", 403)
            p = iam("get-user", "--user-name", "dave", check_rc=False)
            assert p.returncode != 0 and "NoSuchEntity" in p.stderr, p.stderr
        deletes()
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(data, ignore_errors=True)

    @check("aws iam: config-file identities are read-only through the API")
    def read_only():
        home = tempfile.mkdtemp(dir=main_srv.tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_DEFAULT_REGION="us-east-1")
        p = subprocess.run(["aws", "--endpoint-url", main_srv.endpoint, "iam", "delete-role", "--role-name", "e2e-web"], capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode != 0 and "UnmodifiableEntity" in p.stderr and "config file" in p.stderr, p.stderr
        p = subprocess.run(["aws", "--endpoint-url", main_srv.endpoint, "--output", "json", "iam", "get-role", "--role-name", "e2e-web"], capture_output=True, text=True, env=env, timeout=60)
        eq(p.returncode, 0, p.stderr)
    read_only()


if __name__ == "__main__":
    main()
