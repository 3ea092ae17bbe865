// Funding actions: opening channels (some invalid), deposits on either side, co-signed withdrawals (some
// overdrawing, with a wrong nonce, or expired).
import { signWithdraw, withdrawArgs } from "../../../../sdk/isomorphic";
import type { ChannelParams, PayerIndex, Withdraw } from "../../../../sdk/isomorphic";
import { result, send, type FuzzContext } from "../context";
import { InvariantViolation, NAMES, STATUS, ZERO_ADDRESS, type Fate, type Outcome } from "../model";
import { pickChan, randomSender } from "./pick";

export async function open(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world, books } = ctx;
  let a = rng.int(3);
  let b = (a + 1 + rng.int(2)) % 3;
  let token = rng.chance(0.4);
  let period = rng.chance(0.8) ? 3600 : 7200;
  let nonce = ++world.nonce;
  let variant = "";
  const r = rng.float();
  if (r < 0.02) {
    b = a;
    variant = " to itself";
  } else if (r < 0.04) {
    period = 60;
    variant = " with a too short period";
  } else if (r < 0.06 && world.chans.length > 0) {
    const old = rng.pick(world.chans);
    [a, b] = old.parts;
    token = old.token;
    period = old.params.challengePeriod;
    nonce = old.params.nonce;
    variant = ` reusing channel ${old.n}'s id`;
  }
  const amount = rng.chance(0.1) ? 0n : rng.big(1n, 2_000_000n);
  const params: ChannelParams = {
    participant0: chain.accounts[a].address,
    participant1: chain.accounts[b].address,
    asset: token ? chain.tokenAddress : ZERO_ADDRESS,
    challengePeriod: period,
    nonce,
  };
  const data = token
    ? chain.iface.encodeFunctionData("openToken", [
        params.participant1,
        chain.tokenAddress,
        period,
        nonce,
        amount,
      ])
    : chain.iface.encodeFunctionData("openEth", [params.participant1, period, nonce]);
  const r2 = rng.float();
  const fate: Fate = r2 < 0.4 ? "settle" : r2 < 0.73 ? "coop" : "equivocate";
  const fresh = variant === "" ? world.newChan(params, token, [a, b], fate) : null;
  const res = await send(ctx, a, data, token ? 0n : amount);
  if (res.ok) {
    if (!fresh) throw new InvariantViolation(`an open${variant} succeeded`);
    books.expected[a][token ? 1 : 0] -= amount;
    if (fresh.deposits[0] !== amount)
      throw new InvariantViolation(`open: deposit0 is not the ${amount} sent`);
  } else if (fresh) {
    world.dropLast(fresh);
    world.nonce--;
  }
  const note = `${NAMES[a]}→${NAMES[b]} ${token ? "token" : "eth"} ${amount} p${period}${variant}${fresh ? ` = ch${fresh.n} (${fate})` : ""}`;
  return result(res, note);
}

export async function deposit(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world, books } = ctx;
  const ch = pickChan(ctx, world.withStatus(STATUS.open));
  if (!ch) return { ok: null, note: "no channel" };
  const side = rng.int(2) as PayerIndex;
  const from = rng.int(4);
  const amount = rng.big(1n, 1_000_000n);
  const before = ch.deposits[side];
  const data = ch.token
    ? chain.iface.encodeFunctionData("depositToken", [ch.params, side, amount])
    : chain.iface.encodeFunctionData("deposit", [ch.id, side]);
  const res = await send(ctx, from, data, ch.token ? 0n : amount);
  if (res.ok) {
    books.expected[from][ch.token ? 1 : 0] -= amount;
    if (ch.deposits[side] !== before + amount) throw new InvariantViolation("deposit: the total is off");
  }
  return result(res, `ch${ch.n} side ${side} +${amount} by ${NAMES[from]}`);
}

export async function withdraw(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const ch = pickChan(ctx, world.withStatus(STATUS.open));
  if (!ch) return { ok: null, note: "no channel" };
  const b = ch.ledger.balances();
  const available: [bigint, bigint] = [b.available0, b.available1];
  const mode = rng.float();
  const amounts: [bigint, bigint] = [0n, 0n];
  for (const side of [0, 1] as const) {
    const d = ch.deposits[side];
    if (mode < 0.5) {
      const cap = available[side] < d ? available[side] : d;
      amounts[side] = cap > 0n && rng.chance(0.7) ? rng.big(0n, cap) : 0n;
    } else {
      amounts[side] = rng.chance(0.7) ? rng.big(0n, d) : 0n;
    }
  }
  let variant = mode < 0.5 ? "within available" : "up to the deposits";
  if (mode >= 0.85) {
    const side = rng.int(2) as PayerIndex;
    amounts[side] = ch.deposits[side] + rng.big(1n, 1000n);
    variant = `above deposit ${side}`;
  }
  let nonce = ch.withdrawNonce;
  let expiry = chain.clock + 3600n;
  const odd = rng.float();
  if (odd < 0.04) {
    nonce += 1;
    variant += ", wrong nonce";
  } else if (odd < 0.08) {
    expiry = chain.clock - 1n;
    variant += ", expired";
  }
  const w: Withdraw = { channelId: ch.id, nonce, amount0: amounts[0], amount1: amounts[1], expiry };
  const sig0 = await signWithdraw(world.signer(ch, 0), chain.domain, w);
  const sig1 = await signWithdraw(world.signer(ch, 1), chain.domain, w);
  const data = chain.iface.encodeFunctionData("withdraw", [...withdrawArgs(ch.params, w, sig0, sig1)]);
  const res = await send(ctx, randomSender(ctx, ch), data);
  return result(res, `ch${ch.n} ${amounts[0]}/${amounts[1]} nonce ${nonce} (${variant})`);
}
