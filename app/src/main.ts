/**
 * The Parsec dapp: connect an injected wallet, open and fund channels, watch them, close cooperatively
 * (with the relayer's signature) or unilaterally, dispute, settle after the countdown, claim HTLCs.
 * Everything refreshes on each new block; nothing needs a page reload.
 */
import { watchBlockNumber } from "@wagmi/core";
import {
  closeCooperatively,
  closeUnilaterally,
  claimEscrow,
  deposit,
  dispute,
  openChannel,
  settle,
  type ActionContext,
} from "./actions";
import { assetInfo, chainTime, loadChannels, loadEscrows, type ChannelView } from "./chain-data";
import { ConfigError, loadConfig, type AppConfig } from "./config";
import {
  readEvidence,
  type ChannelEvidence,
  relayerClient,
  type RelayerClient,
  describeError,
} from "../../client";
import { parsecDomain, ZERO_ADDRESS } from "../../sdk/isomorphic";
import "./style.css";
import { createActivity } from "./ui/activity";
import { createChannelCard, type ChannelCard } from "./ui/channel-card";
import { h, short } from "./ui/dom";
import { runStep } from "./tx";
import { createEscrowList } from "./ui/escrows";
import { createOpenForm, depositOf } from "./ui/open-form";
import { createWallet, type Wallet } from "./wallet";
import { paymentEngine, nodeRouting, type PaymentEngine } from "./payments/engine";
import { fundAndOpen } from "./payments/fund";
import { paymentLogFor } from "./payments/log";
import { holdTabLock } from "./payments/tab-lock";
import { deriveSessionKey, storedSessionKey, type SessionKey } from "./payments/session";
import { paymentStore } from "./payments/store";
import { createPaymentsPanel } from "./ui/payments";
import { formatAmount, parseAmount } from "../../client";
import type { Address } from "viem";

/** The challenge period of the payment channels the session key opens: a day. */
const PAYMENT_CHANNEL_CHALLENGE_SECONDS = 24 * 3600;

function start(root: HTMLElement, app: AppConfig): void {
  const wallet: Wallet = createWallet(app);
  const relayer: RelayerClient | null = app.relayerUrl ? relayerClient(app.relayerUrl) : null;
  const activity = createActivity();
  // Evidence used for a dispute, kept to settle the same channel later without asking again.
  const evidenceByChannel = new Map<string, ChannelEvidence>();

  const account = h("span", { class: "meta", "data-testid": "account" }, "not connected");
  const connectButton = h("button", { "data-testid": "connect" }, "Connect wallet");
  const relayerState = h(
    "span",
    { class: "meta", "data-testid": "relayer-state" },
    relayer ? `relayer ${relayer.url}` : "no relayer",
  );
  const header = h(
    "header",
    { class: "top" },
    h(
      "div",
      {},
      h("h1", {}, "Parsec"),
      h(
        "span",
        { class: "meta" },
        `${app.networkName} · chain ${app.deployment.chainId} · channels ${short(app.deployment.ParsecChannels)}`,
      ),
    ),
    h("div", { class: "row" }, relayerState, account, connectButton),
  );
  const switchButton = h("button", { "data-testid": "switch-network" }, "Switch network");
  const bannerText = h("span", {});
  const banner = h(
    "div",
    { class: "banner", hidden: true, "data-testid": "wrong-network" },
    bannerText,
    switchButton,
  );
  const notice = h("p", { class: "error", "data-testid": "notice" });

  const domain = parsecDomain(app.deployment.chainId, app.deployment.ParsecChannels);
  // An uploaded file wins; else the relayer's; to settle, the evidence of this session's dispute first.
  const evidenceFor = async (
    c: ChannelView,
    json: string | null,
    reuse: boolean,
  ): Promise<ChannelEvidence | null> => {
    let e: ChannelEvidence | null = null;
    if (json !== null) e = readEvidence(json, { domain, channelId: c.channelId });
    else if (reuse && evidenceByChannel.has(c.channelId)) e = evidenceByChannel.get(c.channelId) ?? null;
    else if (reuse && c.seq0 === 0 && c.seq1 === 0) return null;
    else if (relayer) e = await relayer.evidence(c.channelId, domain);
    if (e) evidenceByChannel.set(c.channelId, e);
    return e;
  };

  const context = (): ActionContext => {
    const address = wallet.state().address;
    if (!address) throw new Error("Connect your wallet first.");
    return { config: wallet.config, deployment: app.deployment, account: address, activity, relayer, wallet };
  };
  const after = async (work: Promise<unknown>) => {
    try {
      await work;
    } finally {
      void refresh();
    }
  };

  const openForm = createOpenForm(app.deployment.TestToken, async (request) => {
    const ctx = context();
    const asset = await assetInfo(ctx.config, request.token ?? ZERO_ADDRESS);
    const amount = depositOf(request, asset);
    await after(
      openChannel(ctx, {
        counterparty: request.counterparty,
        asset,
        amount,
        challengePeriod: request.challengePeriod,
        nonce: BigInt(Date.now()),
      }),
    );
  });

  const channelList = h("div", { "data-testid": "channels" });
  const channelsEmpty = h(
    "p",
    { class: "muted", "data-testid": "channels-empty" },
    "Connect a wallet to see your channels.",
  );
  const channelsPanel = h(
    "section",
    { class: "panel" },
    h("h2", {}, "Your channels"),
    channelsEmpty,
    channelList,
  );
  const cards = new Map<string, ChannelCard>();
  const handlers = {
    deposit: (c: ChannelView, amount: bigint) => after(deposit(context(), c, amount)),
    closeCooperatively: (c: ChannelView, b0: bigint, b1: bigint, sig: string) =>
      after(closeCooperatively(context(), c, b0, b1, sig)),
    closeUnilaterally: (c: ChannelView) => after(closeUnilaterally(context(), c)),
    dispute: async (c: ChannelView, json: string | null) => {
      const e = await evidenceFor(c, json, false);
      if (!e) throw new Error("No relayer is configured: choose an evidence file.");
      await after(dispute(context(), c, e));
    },
    settle: async (c: ChannelView, json: string | null) => {
      await after(settle(context(), c, await evidenceFor(c, json, true)));
    },
  };
  // Payments: the session key (one wallet signature), its engine over the node's payments log.
  const routing = app.node ? nodeRouting(app.node.routingKey, app.node) : null;
  const assets = new Map<string, { symbol: string; decimals: number }>([
    [ZERO_ADDRESS, { symbol: "ETH", decimals: 18 }],
  ]);
  const assetOf = (a: Address) => assets.get(a.toLowerCase()) ?? { symbol: short(a), decimals: 18 };
  let session: SessionKey | null = null;
  let engine: PaymentEngine | null = null;
  // Another tab of this browser signs for the payment key: this one does not start payments.
  let otherTab = false;
  // This tab holds the payment key's lock (held until the tab goes).
  let tabLock = false;
  const paymentsPanel = createPaymentsPanel(
    app.deployment.TestToken,
    (amount, asset) => formatAmount(amount, assetOf(asset).decimals, assetOf(asset).symbol),
    (asset) => assetOf(asset).decimals,
    {
      enable: async () => {
        const address = wallet.state().address;
        if (!address) throw new Error("Connect your wallet first.");
        session = await runStep(activity, "Payment key (one signature)", async () =>
          deriveSessionKey(await wallet.provider(), localStorage, domain, address),
        );
        await refresh();
      },
      fundAndOpen: async (counterparty, depositText) => {
        if (!session) throw new Error("Enable payments first.");
        const s = session;
        await after(
          fundAndOpen(wallet.config, app.deployment, app.rpcUrl, activity, s, {
            counterparty,
            deposit: parseAmount(depositText, 18),
            challengePeriod: PAYMENT_CHANNEL_CHALLENGE_SECONDS,
          }),
        );
      },
    },
  );
  const renderPayments = () => paymentsPanel.render(session?.address ?? null, engine);

  const escrows = createEscrowList((escrow, preimage) => after(claimEscrow(context(), escrow, preimage)));

  root.replaceChildren(
    header,
    banner,
    notice,
    openForm.element,
    paymentsPanel.element,
    channelsPanel,
    escrows.element,
    activity.element,
  );

  // Chain time at the last refresh, advanced by wall-clock time in between, for live countdowns.
  let chainNow = 0;
  let fetchedAt = Date.now();
  let latest: ChannelView[] = [];
  const render = () => {
    const now = chainNow + Math.floor((Date.now() - fetchedAt) / 1000);
    for (const view of latest) cards.get(view.channelId)?.update(view, now);
  };

  let running: Promise<void> | null = null;
  let again = false;
  async function refresh(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await refreshOnce().catch((e: unknown) => (notice.textContent = describeError(e)));
      } while (again);
    })();
    await running;
    running = null;
  }

  async function refreshOnce(): Promise<void> {
    const state = wallet.state();
    account.textContent = state.address ? `${short(state.address)}` : "not connected";
    account.title = state.address ?? "";
    connectButton.textContent = state.address ? "Disconnect" : "Connect wallet";
    banner.hidden = !state.wrongNetwork;
    bannerText.textContent = `Wrong network: your wallet is on chain ${state.chainId}; Parsec is deployed on chain ${app.deployment.chainId} (${app.networkName}).`;
    const usable = state.address !== null && !state.wrongNetwork;
    openForm.setEnabled(usable);
    if (relayer) {
      const ok = await relayer.health();
      relayerState.textContent = ok ? "relayer online" : "relayer unreachable";
    }
    if (!usable || !state.address) {
      channelsEmpty.hidden = false;
      channelsEmpty.textContent = state.address
        ? "Switch to the deployment's network to see your channels."
        : "Connect a wallet to see your channels.";
      channelList.replaceChildren();
      cards.clear();
      return;
    }
    const address = state.address;
    const [views, locked, time] = await Promise.all([
      loadChannels(wallet.config, app.deployment, address, relayer),
      loadEscrows(wallet.config, app.deployment, address),
      chainTime(wallet.config),
    ]);
    notice.textContent = "";
    chainNow = time;
    fetchedAt = Date.now();
    await refreshPayments(address).catch((e: unknown) => (notice.textContent = describeError(e)));
    latest = views;
    channelsEmpty.hidden = views.length > 0;
    channelsEmpty.textContent = "No channels yet: open one above.";
    for (const view of views) {
      if (!cards.has(view.channelId)) {
        const card = createChannelCard(view, relayer !== null, handlers);
        cards.set(view.channelId, card);
      }
    }
    channelList.replaceChildren(...views.map((v) => (cards.get(v.channelId) as ChannelCard).element));
    render();
    escrows.update(locked, time);
  }

  /** The session of the connected wallet (kept from an earlier visit: no signature), its engine, its data. */
  async function refreshPayments(owner: Address): Promise<void> {
    if (session && session.owner.toLowerCase() !== owner.toLowerCase()) {
      engine?.stop();
      engine = null;
      session = null;
      tabLock = false;
      otherTab = false;
    }
    session ??= storedSessionKey(localStorage, domain, owner);
    if (session && !engine && !otherTab) {
      if (!tabLock) {
        tabLock = await holdTabLock(`parsec-payments:${session.address.toLowerCase()}`);
        otherTab = !tabLock;
      }
      const log = tabLock ? paymentLogFor(relayer?.url ?? null) : null;
      if (log) {
        const scope = `${app.deployment.chainId}:${app.deployment.ParsecChannels.toLowerCase()}`;
        engine = paymentEngine({
          session,
          domain,
          log,
          store: paymentStore(localStorage, scope, session.address),
          routing,
          // Chain time: the node judges expiries by the chain's clock.
          now: () => (chainNow ? chainNow * 1000 + (Date.now() - fetchedAt) : Date.now()),
          readNode: async (id) => (relayer ? ((await relayer.channel(id))?.raw ?? null) : null),
          readGraph: relayer ? () => relayer.graph() : undefined,
          onChange: renderPayments,
        });
      }
    }
    if (otherTab)
      notice.textContent =
        "Payments are open in another tab of this browser: use that tab (or close it and reload this one).";
    if (session && engine) {
      const views = await loadChannels(wallet.config, app.deployment, session.address, relayer);
      await engine.update(views);
    }
    renderPayments();
  }

  connectButton.addEventListener("click", () => {
    notice.textContent = "";
    const action = wallet.state().address ? wallet.disconnect() : wallet.connect();
    action.catch((e: unknown) => (notice.textContent = describeError(e))).finally(() => void refresh());
  });
  switchButton.addEventListener("click", () => {
    wallet
      .switchToDeployment()
      .catch((e: unknown) => (notice.textContent = describeError(e)))
      .finally(() => void refresh());
  });
  wallet.onChange(() => void refresh());
  watchBlockNumber(wallet.config, {
    onBlockNumber: () => void refresh(),
    poll: true,
    pollingInterval: 1_000,
    emitOnBegin: true,
  });
  setInterval(render, 1_000);
  // Off-chain balances change without new blocks: poll the relayer too.
  if (relayer) setInterval(() => void refresh(), 3_000);
  void refresh();
}

const root = document.getElementById("app") as HTMLElement;
try {
  start(root, loadConfig());
} catch (e) {
  root.replaceChildren(
    h(
      "p",
      { class: "error", "data-testid": "config-error" },
      e instanceof ConfigError ? e.message : describeError(e),
    ),
  );
}
