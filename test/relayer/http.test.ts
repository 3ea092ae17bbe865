/**
 * The node's HTTP API against malformed and stalled requests (issue 10, item 4), over raw sockets and
 * without Kafka: the server runs in-process with a fake `NodeAccess` (no channels held).
 */
import { expect } from "chai";
import net from "node:net";
import { type HttpApi, type NodeAccess, startHttpApi } from "../../relayer/src/http/server";
import type { Logger, LogFields } from "../../relayer/src/log";

interface Line {
  level: string;
  msg: string;
  fields?: LogFields;
}

function recordingLogger(lines: Line[]): Logger {
  const log: Logger = {
    debug: (msg, fields) => void lines.push({ level: "debug", msg, fields }),
    info: (msg, fields) => void lines.push({ level: "info", msg, fields }),
    warn: (msg, fields) => void lines.push({ level: "warn", msg, fields }),
    error: (msg, fields) => void lines.push({ level: "error", msg, fields }),
    child: () => log,
  };
  return log;
}

function fakeNode(logger: Logger): NodeAccess {
  return {
    nodeId: "http-test",
    domain: {
      name: "Parsec",
      version: "1",
      chainId: 31337n,
      verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    },
    registry: { get: () => undefined, byParticipant: () => [], latestTimestamp: 0 },
    metrics: { render: () => "" },
    logger,
    locate: () => null,
    health: () => ({ ok: true }),
    signerFor: () => null,
  } as unknown as NodeAccess;
}

interface RawReply {
  /** Everything the server wrote before it closed the connection (or the wait ended). */
  text: string;
  status: number | null;
  /** The connection was closed by the server. */
  closed: boolean;
  ms: number;
}

/** Writes `request` on a raw socket and collects the answer until the server closes or `waitMs` passes. */
function raw(url: string, request: string, waitMs: number): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname);
    let text = "";
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : null, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => (text += d));
    sock.on("end", () => finish(true));
    sock.on("close", () => finish(true));
    sock.on("error", () => finish(true));
    sock.on("connect", () => sock.write(request));
  });
}

function jsonBody(reply: RawReply): { error: string; message: string } {
  // The body may be sent chunked: take the JSON object inside it.
  const body = reply.text.slice(reply.text.indexOf("\r\n\r\n") + 4);
  return JSON.parse(body.slice(body.indexOf("{"), body.lastIndexOf("}") + 1)) as {
    error: string;
    message: string;
  };
}

describe("relayer http: malformed and stalled requests", function () {
  this.timeout(20_000);
  const TIMEOUT_MS = 800;
  const lines: Line[] = [];
  let api: HttpApi;

  before(async () => {
    api = await startHttpApi(fakeNode(recordingLogger(lines)), "127.0.0.1", 0, {
      requestTimeoutMs: TIMEOUT_MS,
      headersTimeoutMs: TIMEOUT_MS,
    });
  });
  after(async () => {
    await api.close();
  });
  beforeEach(() => {
    lines.length = 0;
  });
  const errors = (): Line[] => lines.filter((l) => l.level === "error");

  it("answers 400 with a reason to a path that does not percent-decode", async () => {
    const r = await raw(api.url, "GET /channels/% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    expect(r.status, r.text).to.equal(400);
    const b = jsonBody(r);
    expect(b.error).to.equal("BadRequest");
    expect(b.message).to.match(/percent/i);
    expect(errors()).to.deep.equal([]);
  });

  it("answers 400 with a reason to a malformed request target", async () => {
    const r = await raw(api.url, "GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    expect(r.status, r.text).to.equal(400);
    const b = jsonBody(r);
    expect(b.error).to.equal("BadRequest");
    expect(b.message).to.match(/request target/i);
    expect(errors()).to.deep.equal([]);
  });

  it("still serves well-formed requests", async () => {
    const r = await raw(api.url, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    expect(r.status, r.text).to.equal(200);
    const bad = await raw(
      api.url,
      "GET /channels/0x12 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      3000,
    );
    expect(bad.status).to.equal(400);
    expect(jsonBody(bad).message).to.match(/64 hex digits/);
  });

  it("answers 408 and closes when a declared body never arrives", async () => {
    const id = "0x" + "ab".repeat(32);
    const r = await raw(
      api.url,
      `POST /channels/${id}/cooperative-close HTTP/1.1\r\nHost: x\r\n` +
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
      TIMEOUT_MS * 4,
    );
    expect(r.closed, `still open after ${r.ms} ms: ${JSON.stringify(r.text)}`).to.equal(true);
    expect(r.status, r.text).to.equal(408);
    expect(jsonBody(r).error).to.equal("RequestTimeout");
    expect(r.ms).to.be.lessThan(TIMEOUT_MS * 3);
    expect(errors()).to.deep.equal([]);
  });

  it("closes a connection whose headers never end", async () => {
    const r = await raw(api.url, "GET /health HTTP/1.1\r\nHost: x\r\n", TIMEOUT_MS * 4);
    expect(r.closed, `still open after ${r.ms} ms`).to.equal(true);
    expect(r.ms).to.be.lessThan(TIMEOUT_MS * 3);
    expect(r.status, r.text).to.equal(408);
    expect(jsonBody(r).error).to.equal("RequestTimeout");
    expect(errors()).to.deep.equal([]);
  });

  it("logs a client that aborts mid-body at debug, not error", async () => {
    const id = "0x" + "cd".repeat(32);
    await new Promise<void>((resolve, reject) => {
      const { hostname, port } = new URL(api.url);
      const sock = net.connect(Number(port), hostname, () => {
        sock.write(
          `POST /channels/${id}/cooperative-close HTTP/1.1\r\nHost: x\r\n` +
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"balance0":',
          () => setTimeout(() => sock.resetAndDestroy(), 100),
        );
      });
      sock.on("error", reject);
      sock.on("close", () => resolve());
    });
    // Let the server notice the reset.
    const until = Date.now() + 2000;
    while (Date.now() < until && !lines.some((l) => l.level === "debug")) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(errors()).to.deep.equal([]);
    expect(lines.some((l) => l.level === "debug" && /abort/i.test(l.msg))).to.equal(true);
  });
});
