# Hostile-connection probe (issue 15, defect 2), run by hand against a running server:
#   python3 connections.py PORT MODE N CERT.pem KEY.pem ROOT.pem [HOLD_SECONDS]
# Opens N TLS connections with an officer's certificate chain and key and reports how many the
# server closed within HOLD_SECONDS, and how long after each connection's handshake.
# MODE slowloris: one header byte a second; idle: nothing sent (HTTP/1.1 by ALPN); idle2:
# nothing sent, ALPN h2. Not a test (it takes minutes): the e2e module `connections` is.
import socket, ssl, sys, time, threading
host, port = "127.0.0.1", int(sys.argv[1])
mode = sys.argv[2]; n = int(sys.argv[3]); cert, key, ca = sys.argv[4:7]
hold = float(sys.argv[7]) if len(sys.argv) > 7 else 90
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
ctx.set_alpn_protocols(["h2"] if mode == "idle2" else ["http/1.1"])
closed = []; opened = [0]; failed = [0]; lock = threading.Lock(); t0 = time.time()
def one(i):
    try:
        s = socket.create_connection((host, port), timeout=30)
        t = ctx.wrap_socket(s)
    except Exception:
        with lock: failed[0] += 1
        return
    start = time.time()
    with lock: opened[0] += 1
    try:
        if mode == "slowloris":
            req = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-a: " + b"a" * 1000
            for b in req:
                t.send(bytes([b]))
                time.sleep(1)
                if time.time() - start > hold: return
        else:
            t.settimeout(1)
            while time.time() - start < hold:
                try:
                    if t.recv(4096) == b"": break
                except (socket.timeout, TimeoutError):
                    continue
            else:
                return
    except (socket.timeout, TimeoutError):
        return
    except Exception:
        pass
    with lock: closed.append(time.time() - start)
ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for th in ths: th.start()
for th in ths: th.join()
closed.sort()
print(f"{mode}: {n} connections, {opened[0]} opened ({failed[0]} refused), {len(closed)} closed by the server within {hold:.0f} s of opening;",
      f"closed {closed[0]:.1f} to {closed[-1]:.1f} s after the handshake (median {closed[len(closed)//2]:.1f}); all done {time.time()-t0:.0f} s after the start" if closed else "none closed")
