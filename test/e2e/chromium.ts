// Debian's Chromium for playwright-core (never a Playwright browser download): found, or installed with apt.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export const CHROMIUM = process.env.PARSEC_CHROMIUM ?? "/usr/bin/chromium";

/** Flags that make Chromium start headless here: no sandbox as root, no background connections. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
] as const;

/** Returns Chromium's path, installing Debian's `chromium` package first if it is missing. */
export function ensureChromium(log: (line: string) => void = console.log): string {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  log(`${CHROMIUM} is missing: installing Debian's chromium package (apt-get, as root)…`);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env });
  } catch (e) {
    throw new Error(
      `Could not install Chromium (${(e as Error).message}). Install it yourself — \`sudo apt-get install -y chromium\` ` +
        `on Debian/Ubuntu — or point PARSEC_CHROMIUM at a Chromium/Chrome binary, then run npm run test:e2e again.`,
    );
  }
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`apt-get installed chromium but ${CHROMIUM} does not exist; set PARSEC_CHROMIUM`);
  return CHROMIUM;
}
