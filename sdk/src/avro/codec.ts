/**
 * Avro schemas (`schemas/*.avsc`), a registry of writer schemas by fingerprint, and a generic codec
 * that frames, resolves and converts between Avro records and the SDK's typed messages. Decoding any
 * bytes either returns a valid message or throws a `ParsecError` (`Malformed`, `UnknownSchema`, or a
 * validation error of the message); it never throws anything else and never loops unboundedly, because
 * every schema is checked to be flat (no arrays or maps: lists travel as packed bytes).
 */
import fs from "node:fs";
import path from "node:path";
import avro from "avsc";
import { MalformedError, UnknownSchemaError, isParsecError } from "../errors";
import {
  fingerprintBytes,
  fingerprintHex,
  frame,
  readFrameFingerprint,
  schemaFingerprint,
  FRAME_HEADER_LENGTH,
} from "./framing";

type Resolver = ReturnType<avro.Type["createResolver"]>;

/** The directory holding the `.avsc` files. */
export const SCHEMA_DIR = path.join(__dirname, "schemas");

/** Reads and parses a schema file from `schemas/`. */
export function loadSchemaFile(file: string): avro.Schema {
  return JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), "utf8")) as avro.Schema;
}

/** Throws if a schema has arrays, maps or recursion (their decoding time is not bounded by the input). */
export function assertFlatSchema(type: avro.Type, seen: Set<avro.Type> = new Set()): void {
  if (seen.has(type)) throw new Error(`schema ${type.name ?? type.typeName} is recursive`);
  const name = type.typeName;
  if (name === "array" || name === "map") {
    throw new Error(`Parsec schemas must not use Avro ${name}s; encode lists as packed bytes`);
  }
  seen.add(type);
  if (name === "record" || name === "error") {
    for (const f of (type as avro.types.RecordType).fields) assertFlatSchema(f.type, seen);
  } else if (name.startsWith("union")) {
    for (const t of (type as avro.types.UnwrappedUnionType).types) assertFlatSchema(t, seen);
  }
  seen.delete(type);
}

/** A parsed schema with its fingerprint. */
export interface RegisteredSchema {
  readonly type: avro.Type;
  readonly fingerprint: bigint;
  readonly fingerprintBytes: Uint8Array;
  /**
   * The `schemaVersion` its records carry: the field's default (1 when the schema has none). A record
   * framed with this schema's fingerprint but claiming another version is `Malformed`.
   */
  readonly version: number;
}

/** The default of a record schema's `schemaVersion` field, 1 when it has none. */
function versionOf(type: avro.Type): number {
  const fields = (type as avro.types.RecordType).fields ?? [];
  const v = fields.find((f) => f.name === "schemaVersion")?.defaultValue();
  return typeof v === "number" ? v : 1;
}

/** Whether the schema has a `schemaVersion` field (every Parsec schema does). */
function hasVersionField(type: avro.Type): boolean {
  return ((type as avro.types.RecordType).fields ?? []).some((f) => f.name === "schemaVersion");
}

/** Writer schemas by fingerprint. Readers resolve any registered writer of the same record name. */
export class SchemaRegistry {
  private readonly byFingerprint = new Map<bigint, RegisteredSchema>();

  /** Parses, checks and registers a schema; returns it (idempotent). */
  register(schema: avro.Schema | avro.Type): RegisteredSchema {
    const type = schema instanceof avro.Type ? schema : avro.Type.forSchema(schema);
    assertFlatSchema(type);
    const fingerprint = schemaFingerprint(JSON.stringify(type.schema()));
    const existing = this.byFingerprint.get(fingerprint);
    if (existing) return existing;
    const entry = {
      type,
      fingerprint,
      fingerprintBytes: fingerprintBytes(fingerprint),
      version: versionOf(type),
    };
    this.byFingerprint.set(fingerprint, entry);
    return entry;
  }

  /** The writer schema of a fingerprint, if known. */
  get(fingerprint: bigint): RegisteredSchema | undefined {
    return this.byFingerprint.get(fingerprint);
  }
}

/** How a typed message maps to and from its Avro record. */
export interface MessageMapping<T> {
  /** Builds the Avro record (Buffers for fixed/bytes) from a typed message. */
  toAvro(value: T): Record<string, unknown>;
  /** Checks an Avro record and builds the typed message; throws `ParsecError`s only. */
  fromAvro(record: Record<string, unknown>): T;
}

/** Encodes and decodes one message type, framed with its writer fingerprint. */
export class AvroCodec<T> {
  readonly reader: RegisteredSchema;
  private readonly resolvers = new Map<bigint, Resolver>();

  constructor(
    readonly name: string,
    readerSchema: avro.Schema | avro.Type,
    readonly registry: SchemaRegistry,
    /** How typed messages map to records; public so a newer codec can extend it. */
    readonly mapping: MessageMapping<T>,
  ) {
    this.reader = registry.register(readerSchema);
  }

  /** The schema version this codec writes. */
  get schemaVersion(): number {
    return this.reader.version;
  }

  /**
   * Avro body of a message, without the frame. A message whose `schemaVersion` is not this codec's is
   * refused (`Malformed`): its fingerprint would name this schema while its field claimed another.
   */
  encodeBody(value: T): Buffer {
    const record = this.mapping.toAvro(value);
    if (hasVersionField(this.reader.type) && record.schemaVersion !== this.reader.version) {
      throw new MalformedError(
        `a ${this.name} message with schemaVersion ${String(record.schemaVersion)} cannot be written with ` +
          `the version ${this.reader.version} schema; set schemaVersion to ${this.reader.version}`,
      );
    }
    return this.reader.type.toBuffer(record);
  }

  /** The framed message (what goes on the topic). */
  encode(value: T): Buffer {
    return frame(this.reader.fingerprintBytes, this.encodeBody(value));
  }

  /** The raw Avro record of a framed message (resolved to this reader), without typed validation. */
  decodeRecord(bytes: Uint8Array): Record<string, unknown> {
    const fp = readFrameFingerprint(bytes);
    const writer = this.registry.get(fp);
    if (!writer) throw new UnknownSchemaError(fingerprintHex(fp));
    const body = Buffer.from(
      bytes.buffer,
      bytes.byteOffset + FRAME_HEADER_LENGTH,
      bytes.length - FRAME_HEADER_LENGTH,
    );
    let record: Record<string, unknown>;
    try {
      if (writer === this.reader) record = this.reader.type.fromBuffer(body) as Record<string, unknown>;
      else {
        let resolver = this.resolvers.get(fp);
        if (!resolver) {
          resolver = this.reader.type.createResolver(writer.type);
          this.resolvers.set(fp, resolver);
        }
        record = this.reader.type.fromBuffer(body, resolver) as Record<string, unknown>;
      }
    } catch (e) {
      if (isParsecError(e)) throw e;
      throw new MalformedError(
        `${this.name} does not decode (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    // The fingerprint decides the layout; a schemaVersion field that says otherwise is a forgery or a
    // producer bug, never a newer message (a newer writer has its own fingerprint).
    if (hasVersionField(writer.type) && record.schemaVersion !== writer.version) {
      throw new MalformedError(
        `${this.name} claims schemaVersion ${String(record.schemaVersion)} but is framed with the version ` +
          `${writer.version} schema (fingerprint ${fingerprintHex(fp)})`,
        { schemaVersion: Number(record.schemaVersion), writerVersion: writer.version },
      );
    }
    return record;
  }

  /** Decodes and validates a framed message. */
  decode(bytes: Uint8Array): T {
    const record = this.decodeRecord(bytes);
    try {
      return this.mapping.fromAvro(record);
    } catch (e) {
      if (isParsecError(e)) throw e;
      throw new MalformedError(
        `${this.name} has invalid fields (${e instanceof Error ? e.message : String(e)})`,
      );
    }
  }
}
