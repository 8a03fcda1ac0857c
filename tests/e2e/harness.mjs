// What the Playground end-to-end test stands on: a `digilog serve` in anonymous loopback
// Teams mode, the Microsoft 365 Agents Playground pointed at it, and Debian's Chromium
// driving the Playground's web page. Only loopback is ever reached: the page's requests to
// anywhere else (web fonts from a CDN) are refused before they leave the browser.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

// The Playground's built-in configuration (version 0.2.28): one tenant, one team whose
// General channel's id is the team's, and Alex Wilber as the person at the keyboard.
export const PLAYGROUND = {
  tenant: '00000000-0000-0000-0000-0000000000001',
  channel: 'team-id',
  user: 'user-id-0',
  userName: 'Alex Wilber',
  bot: 'Test Bot',
};

// The machine may be busy (CI runs this after the whole suite): waits are for a state,
// each bounded generously, never a fixed sleep.
export const UI_TIMEOUT_MS = Number(process.env.E2E_UI_TIMEOUT_MS || 90_000);
const START_TIMEOUT_MS = 180_000;

const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// A developer's own Slack, Teams or database settings must not leak into the run.
function cleanEnvironment(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(DIGILOG_|SLACK_|TEAMS_)/.test(key) || key === 'PORT') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

export class Harness {
  constructor() {
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'digilog-e2e-'));
    this.shotsDir = process.env.E2E_SCREENSHOTS || path.join(this.workDir, 'screenshots');
    fs.mkdirSync(this.shotsDir, { recursive: true });
    this.children = [];
    this.digilogBin = process.env.DIGILOG_BIN || path.join(repoRoot, '.venv', 'bin', 'digilog');
    this.env = cleanEnvironment({
      // The checkout's code, whichever environment the `digilog` script belongs to.
      PYTHONPATH: repoRoot,
      DIGILOG_DATA_DIR: path.join(this.workDir, 'data'),
      DIGILOG_LANGUAGE: 'en',
      DIGILOG_LOG_LEVEL: 'INFO',
    });
  }

  async digilog(...args) {
    try {
      const { stdout } = await promisify(execFile)(this.digilogBin, args, {
        cwd: this.workDir,
        env: this.env,
      });
      return stdout;
    } catch (error) {
      throw new Error(`digilog ${args.join(' ')} failed: ${error.stderr || error.message}`);
    }
  }

  start(name, command, args, options) {
    const log = fs.openSync(path.join(this.workDir, `${name}.log`), 'a');
    // Its own process group, so that stopping it stops whatever it started.
    const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', log, log] });
    child.name = name;
    child.exited = new Promise((resolve) => child.once('exit', resolve));
    this.children.push(child);
    return child;
  }

  logOf(name) {
    try {
      return fs.readFileSync(path.join(this.workDir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  async startDigilog() {
    this.digilogPort = await freePort();
    const child = this.start('digilog', this.digilogBin, ['serve', '--host', '127.0.0.1'], {
      cwd: this.workDir,
      env: {
        ...this.env,
        DIGILOG_TEAMS_ANONYMOUS: '1',
        DIGILOG_HOST: '127.0.0.1',
        DIGILOG_PORT: String(this.digilogPort),
      },
    });
    const health = `http://127.0.0.1:${this.digilogPort}/healthz`;
    await until(
      'digilog serve to answer /healthz',
      async () => {
        if (child.exitCode !== null) {
          throw new Error(`digilog serve exited (${child.exitCode}):\n${this.logOf('digilog')}`);
        }
        try {
          return (await fetch(health)).ok;
        } catch {
          return false;
        }
      },
      START_TIMEOUT_MS,
    );
  }

  async startPlayground() {
    const cwd = path.join(this.workDir, 'playground');
    fs.mkdirSync(cwd);
    const cli = path.join(here, 'node_modules', '@microsoft', 'm365agentsplayground', 'cli.js');
    const wanted = await freePort();
    const child = this.start(
      'playground',
      process.execPath,
      [
        cli,
        '--app-endpoint',
        `http://127.0.0.1:${this.digilogPort}/api/messages`,
        '--channel-id',
        'msteams',
        '--port',
        String(wanted),
        '--disable-telemetry',
      ],
      // It would open the system's browser otherwise.
      { cwd, env: { ...process.env, TEAMSAPPTESTER_BROWSER: 'none' } },
    );
    // It takes another port if the one asked for was taken meanwhile: read the one it says.
    await until(
      'the Playground to listen',
      () => {
        if (child.exitCode !== null) {
          throw new Error(`the Playground exited (${child.exitCode}):\n${this.logOf('playground')}`);
        }
        const match = /Listening on (\d+)/.exec(this.logOf('playground'));
        if (match) this.playgroundPort = Number(match[1]);
        return Boolean(match);
      },
      START_TIMEOUT_MS,
    );
  }

  async openBrowser() {
    this.context = await chromium.launchPersistentContext(path.join(this.workDir, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await this.context.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname) ? route.continue() : route.abort();
    });
    this.page = this.context.pages()[0] || (await this.context.newPage());
    this.page.setDefaultTimeout(UI_TIMEOUT_MS);
    await this.page.goto(`http://127.0.0.1:${this.playgroundPort}/`);
  }

  async screenshot(name) {
    if (!this.page) return null;
    const file = path.join(this.shotsDir, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    try {
      await this.page.screenshot({ path: file, fullPage: true });
      return file;
    } catch {
      return null;
    }
  }

  removeWorkDir() {
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }

  async stop() {
    if (this.context) await this.context.close().catch(() => {});
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          return;
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, 10_000);
        await child.exited;
        clearTimeout(timer);
      }),
    );
  }
}
