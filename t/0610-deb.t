#!/usr/bin/env python3
# t/0610-deb.t: scripts/build-deb builds pgmcp_<VERSION>_<arch>.deb; dpkg-deb --info and
# --contents show what an EC2 instance would install: Depends computed from the binary's
# libraries (the same packages as the Dockerfile's runtime stage), the conffile, the units,
# maintainer scripts that create the pgmcp user and start nothing.
# When scripts/rootfs-rehearsal has cached a Debian root (make deploy-check), the package is
# also installed into a copy of it with dpkg (as root): user created, configuration readable
# by that user, binary runs, remove and purge are clean. Otherwise that part is skipped.
# no-sanitizer: packages the normal build only.
import glob
import os
import re
import shutil
import subprocess
import tempfile

from tap import ok, is_, like, skip, diag, done
from pgmcp_test import ROOT


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=kw.pop("timeout", 300), **kw)


def dockerfile_runtime_packages():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = f.read().replace("\\\n", " ")
    last = text.rsplit("\nFROM ", 1)[-1]
    m = re.search(r"apt-get install\s+(.*?)(&&|$)", last, re.M)
    return [w for w in m.group(1).split() if not w.startswith("-")] if m else []


version = open(os.path.join(ROOT, "VERSION")).read().strip()
arch = sh(["dpkg", "--print-architecture"]).stdout.strip()
tmp = tempfile.mkdtemp(prefix="pgmcp-t0610-")
try:
    p = sh([os.path.join(ROOT, "scripts", "build-deb"), "--out", tmp])
    deb = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    ok(p.returncode == 0 and deb == os.path.join(tmp, f"pgmcp_{version}_{arch}.deb") and
       os.path.isfile(deb), f"scripts/build-deb builds pgmcp_{version}_{arch}.deb",
       p.stdout + p.stderr)
    diag(f"package size: {os.path.getsize(deb) if os.path.isfile(deb) else 0} bytes")

    info = sh(["dpkg-deb", "--info", deb]).stdout
    field = lambda k: (re.search(rf"^ {k}: (.*)$", info, re.M) or [None, None])[1]  # noqa: E731
    is_(field("Package"), "pgmcp", "Package: pgmcp")
    is_(field("Version"), version, f"Version: {version} (from VERSION)")
    is_(field("Architecture"), arch, f"Architecture: {arch}")
    depends = [d.split()[0] for d in (field("Depends") or "").split(",")]
    diag(f"Depends: {field('Depends')}")
    runtime = [p for p in dockerfile_runtime_packages() if p != "ca-certificates"]
    ok(runtime and all(p in depends for p in runtime),
       f"Depends covers the Dockerfile's runtime libraries {runtime}", depends)
    ok("libc6" in depends and "passwd" in depends, "and libc6, and passwd for the postinst")
    ctl = os.path.join(tmp, "control")
    os.makedirs(ctl)
    sh(["dpkg-deb", "--control", deb, ctl])
    is_(open(os.path.join(ctl, "conffiles")).read().split(), ["/etc/pgmcp/pgmcp.yaml"],
        "conffiles: /etc/pgmcp/pgmcp.yaml")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctl, script)
        ok(os.access(path, os.X_OK) and sh(["sh", "-n", path]).returncode == 0,
           f"{script} is an executable, valid shell script")
    postinst = open(os.path.join(ctl, "postinst")).read()
    ok("useradd --system" in postinst and "chown root:pgmcp /etc/pgmcp/pgmcp.yaml" in postinst,
       "postinst creates the pgmcp system user and lets it read the configuration")
    scripts = "".join(open(os.path.join(ctl, s)).read() for s in ("postinst", "prerm", "postrm"))
    ok(not re.search(r"systemctl[^\n]*\b(start|enable|restart)\b|deb-systemd-invoke start",
                     scripts), "no maintainer script enables or starts a unit")

    contents = sh(["dpkg-deb", "--contents", deb]).stdout
    files = {line.split()[-1].lstrip("."): line.split()[0] for line in contents.splitlines()}
    for path, mode in [("/usr/bin/pgmcp", "-rwxr-xr-x"), ("/etc/pgmcp/pgmcp.yaml", "-rw-r-----"),
                       ("/usr/share/man/man1/pgmcp.1.gz", "-rw-r--r--"),
                       ("/lib/systemd/system/pgmcp.service", "-rw-r--r--"),
                       ("/lib/systemd/system/pgmcp.socket", "-rw-r--r--"),
                       ("/lib/systemd/system/pgmcp-inetd.socket", "-rw-r--r--"),
                       ("/lib/systemd/system/pgmcp-inetd@.service", "-rw-r--r--"),
                       ("/usr/share/doc/pgmcp/pgmcp.yaml.example", "-rw-r--r--")]:
        is_(files.get(path), mode, f"contents: {path} {mode}")
    ok(all("root/root" in line for line in contents.splitlines()), "every file is root-owned")

    # ---- installed into a Debian root, when the rehearsal has cached one
    layers = sorted(glob.glob(os.environ.get("PGMCP_ROOTFS_CACHE", "/var/cache/pgmcp-rootfs") +
                              "/layer-*/.complete"), key=os.path.getmtime)
    if os.geteuid() != 0 or not layers or not os.path.isfile(deb):
        skip("dpkg -i into a Debian root", "needs root and the root cached by "
             "scripts/rootfs-rehearsal (make deploy-check)")
    else:
        root = os.path.join(tmp, "rootfs")
        sh(["cp", "-a", os.path.join(os.path.dirname(layers[-1]), "rootfs"), root])
        shutil.copy(deb, os.path.join(root, "tmp", os.path.basename(deb)))
        inroot = lambda *c: sh(["chroot", root] + list(c))  # noqa: E731
        p = inroot("dpkg", "-i", "/tmp/" + os.path.basename(deb))
        ok(p.returncode == 0, "dpkg -i in a bookworm root with the runtime libraries",
           p.stdout + p.stderr)
        ok(inroot("getent", "passwd", "pgmcp").returncode == 0, "the pgmcp user exists")
        st = inroot("stat", "-c", "%U:%G %a", "/etc/pgmcp/pgmcp.yaml").stdout.strip()
        is_(st, "root:pgmcp 640", "/etc/pgmcp/pgmcp.yaml is root:pgmcp 0640")
        p = inroot("setpriv", "--reuid=pgmcp", "--regid=pgmcp", "--clear-groups",
                   "/usr/bin/pgmcp", "--check-config", "-c", "/etc/pgmcp/pgmcp.yaml")
        ok(p.returncode == 0 and "configuration OK" in p.stdout,
           "as the pgmcp user: pgmcp --check-config -c /etc/pgmcp/pgmcp.yaml", p.stderr)
        like(inroot("pgmcp", "--version").stdout, version, "pgmcp --version")
        p = inroot("dpkg", "-i", "/tmp/" + os.path.basename(deb))
        ok(p.returncode == 0, "reinstalling (upgrade path) works", p.stderr)
        p = inroot("dpkg", "--purge", "pgmcp")
        ok(p.returncode == 0 and not os.path.exists(os.path.join(root, "usr/bin/pgmcp")) and
           not os.path.exists(os.path.join(root, "etc/pgmcp/pgmcp.yaml")),
           "dpkg --purge removes the binary and the conffile", p.stdout + p.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
