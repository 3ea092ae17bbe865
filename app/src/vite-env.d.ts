/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_PARSEC_NETWORK?: string;
  readonly VITE_PARSEC_RPC_URL?: string;
  readonly VITE_PARSEC_RELAYER_URL?: string;
  readonly VITE_PARSEC_CHAIN_ID?: string;
  readonly VITE_PARSEC_CHANNELS?: string;
  readonly VITE_PARSEC_HTLC?: string;
  readonly VITE_PARSEC_TOKEN?: string;
  readonly VITE_PARSEC_NODE_KEY?: string;
  readonly VITE_PARSEC_NODE_FEE_BASE?: string;
  readonly VITE_PARSEC_NODE_FEE_PPM?: string;
  readonly VITE_PARSEC_NODE_EXPIRY_DELTA?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
