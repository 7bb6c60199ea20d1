/**
 * What every browser test needs: the example pages built, the app on `wrangler dev`, Debian's
 * Chromium (never a downloaded browser), people logged in through the app's own session, and
 * screenshots in test-artifacts/.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core"
import { expect } from "vitest"
import { startExampleApp, type DevServer } from "../../scripts/dev-server.js"

const root = join(import.meta.dirname, "../..")
export const artifacts = join(root, "test-artifacts")
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

// Without the background-networking flags Chromium keeps dialling hosts this closed network refuses.
const chromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

export interface BrowserSuite {
  readonly server: DevServer
  readonly browser: Browser
  readonly stop: () => Promise<void>
}

/** Build the pages unminified (React's development build, where Strict Mode mounts effects twice), start the app and Chromium. */
export const startBrowserSuite = async (label: string): Promise<BrowserSuite> => {
  mkdirSync(artifacts, { recursive: true })
  execFileSync(process.execPath, [join(root, "scripts/build-example.mjs")], { cwd: root, stdio: "inherit" })
  const server = await startExampleApp({ label })
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs })
  return {
    server,
    browser,
    stop: async () => {
      await browser.close()
      await server.stop()
    },
  }
}

/** Log a browser context in (POST /login): the HttpOnly session cookie lands in its cookie jar. */
export const logIn = async (server: DevServer, context: BrowserContext, name: string): Promise<BrowserContext> => {
  const response = await context.request.post(`${server.url}/login`, { data: { name } })
  expect(response.status()).toBe(200)
  const cookies = await context.cookies(server.url)
  expect(cookies.find((cookie) => cookie.name === "session")?.httpOnly).toBe(true)
  return context
}

/** Open a page and wait until it knows who it is (from the session, never `?user=`) and its connection is live. */
export const openLivePage = async (server: DevServer, context: BrowserContext, path: string, user: string, onPage?: (page: Page) => void): Promise<Page> => {
  const page = await context.newPage()
  page.on("pageerror", (error) => console.error(`[${user}] page error: ${error.message}`))
  onPage?.(page)
  await page.goto(`${server.url}${path}`)
  await expect.poll(() => page.locator("#me").textContent(), { timeout: 10_000 }).toBe(user)
  await expect.poll(() => page.locator("#status").getAttribute("data-state"), { timeout: 10_000 }).toBe("live")
  return page
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true })

export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}`
