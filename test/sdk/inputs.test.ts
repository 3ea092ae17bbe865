/**
 * Input bounds of the SDK's message decoding: a `schemaVersion` that contradicts the writer schema's
 * fingerprint is `Malformed` (codec and the transfer screen), `appData`/`appKind` and the whole transfer
 * message are bounded before verification, and dead letters evolved compatibly (v1 records still read).
 */
import { expect } from "chai";
import avro from "avsc";
import fs from "node:fs";
import path from "node:path";
import {
  codecs,
  DEFAULT_MAX_APP_DATA_BYTES,
  deadLetterOf,
  frame,
  loadSchemaFile,
  MAX_APP_KIND_BYTES,
  maxTransferMessageBytes,
  screenTransferMessage,
  sha256Of,
  transferMessage,
  type Hex,
} from "../../sdk";
import { expectCode, makeChannel, pays, signChain } from "./helpers";

const ch = makeChannel();
const { transfers } = signChain(ch, 0, pays(1));
const { hash: _h, ...transfer } = transfers[0];
void _h;
const limits = { maxAppDataBytes: DEFAULT_MAX_APP_DATA_BYTES };
const wire = (extra: { appKind?: string; appData?: Hex } = {}): Buffer =>
  codecs().transfer.encode(transferMessage(ch.domain, transfer, ch.params.participant0, extra));
const reframed = (bytes: Buffer, patch: Record<string, unknown>): Buffer => {
  const reader = codecs().transfer.reader;
  const record = reader.type.fromBuffer(bytes.subarray(10)) as Record<string, unknown>;
  return frame(reader.fingerprintBytes, reader.type.toBuffer({ ...record, ...patch }));
};

describe("sdk: input bounds and schemaVersion", () => {
  it("the transfer screen passes valid messages, up to the appData bound", () => {
    expect(screenTransferMessage(wire(), limits)).to.equal(null);
    const atBound = wire({ appKind: "K".repeat(MAX_APP_KIND_BYTES), appData: `0x${"aa".repeat(4096)}` });
    expect(screenTransferMessage(atBound, limits)).to.equal(null);
    expect(screenTransferMessage(Buffer.alloc(0), limits)).to.equal(null); // the verifier says Malformed
  });

  it("refuses a v1 message that claims schemaVersion 2, in the screen and in the codec", () => {
    const forged = reframed(wire(), { schemaVersion: 2 });
    const e = screenTransferMessage(forged, limits);
    expect(e?.code).to.equal("Malformed");
    expect(e?.message).to.include("schemaVersion 2");
    expectCode(() => codecs().transfer.decode(forged), "Malformed");
    const control = codecs().control;
    const request = {
      schemaVersion: 1,
      requestId: "r",
      channelId: ch.channelId,
      action: "DISPUTE" as const,
      requestedBy: null,
      requestedAtMs: 1,
      reason: null,
    };
    const raw = control.reader.type.fromBuffer(control.encode(request).subarray(10)) as object;
    const forgedControl = frame(
      control.reader.fingerprintBytes,
      control.reader.type.toBuffer({ ...raw, schemaVersion: 0 }),
    );
    expectCode(() => control.decode(forgedControl), "Malformed");
    expectCode(() => control.encode({ ...request, schemaVersion: 2 }), "Malformed");
  });

  it("refuses appData, appKind and whole messages over their bounds without decoding them", () => {
    const over = screenTransferMessage(wire({ appData: `0x${"bb".repeat(4097)}` }), limits);
    expect(over?.message).to.include("appData is 4097 bytes, over the bound of 4096");
    expect(over?.details).to.deep.equal({ bytes: 4097, max: 4096 });
    const kind = screenTransferMessage(wire({ appKind: "K".repeat(MAX_APP_KIND_BYTES + 1) }), limits);
    expect(kind?.message).to.include(`appKind is ${MAX_APP_KIND_BYTES + 1} bytes`);
    // Far over: refused from the length alone (here not even a valid frame).
    const huge = Buffer.alloc(maxTransferMessageBytes(limits) + 1, 0xee);
    expect(screenTransferMessage(huge, limits)?.message).to.include(`${huge.length} bytes, over the bound`);
    // A larger configured bound lets it through.
    expect(
      screenTransferMessage(wire({ appData: `0x${"bb".repeat(4097)}` }), { maxAppDataBytes: 8192 }),
    ).to.equal(null);
  });

  it("bounds appData of a message written with another registered schema version too", () => {
    const fixture = JSON.parse(
      fs.readFileSync(path.join(__dirname, "fixtures", "transfer.v2.avsc"), "utf8"),
    ) as avro.Schema;
    const v2type = avro.Type.forSchema(fixture);
    const v2 = codecs().registry.register(v2type);
    const record = codecs().transfer.reader.type.fromBuffer(wire().subarray(10)) as Record<string, unknown>;
    const at = (appData: Buffer, schemaVersion = 2): Buffer =>
      frame(
        v2.fingerprintBytes,
        v2type.toBuffer({ ...record, schemaVersion, appData, memo: null, priority: 0 }),
      );
    expect(screenTransferMessage(at(Buffer.alloc(10)), limits)).to.equal(null);
    expect(screenTransferMessage(at(Buffer.alloc(5000)), limits)?.message).to.include(
      "appData is 5000 bytes",
    );
    expect(screenTransferMessage(at(Buffer.alloc(10), 1), limits)?.message).to.include("schemaVersion 1");
  });

  it("reads a dead letter written with the v1 schema, with the v2 fields' defaults", () => {
    const v1 = avro.Type.forSchema(loadSchemaFile("dead-letter.v1.avsc"));
    const fp = codecs().registry.register(v1).fingerprintBytes;
    const old = frame(
      fp,
      v1.toBuffer({
        schemaVersion: 1,
        reasonCode: "BadSignature",
        reasonText: "x",
        original: Buffer.from([1, 2]),
        originalKey: null,
        topic: "t",
        partition: 0,
        offset: 5,
        channelId: null,
        failedAtMs: 9,
      }),
    );
    const back = codecs().deadLetter.decode(old);
    expect(back).to.include({
      schemaVersion: 1,
      originalTruncated: false,
      originalLength: -1,
      originalSha256: null,
      originalKeyLength: -1,
    });
    // And a v2 record keeps the whole original with its length and sha256.
    const dl = deadLetterOf(
      { code: "Malformed", message: "m" },
      { original: Buffer.from([7, 8, 9]), topic: "t", partition: 1, offset: 2 },
    );
    expect(codecs().deadLetter.decode(codecs().deadLetter.encode(dl))).to.deep.include({
      schemaVersion: 2,
      originalLength: 3,
      originalSha256: sha256Of(Buffer.from([7, 8, 9])),
      originalTruncated: false,
    });
  });
});
