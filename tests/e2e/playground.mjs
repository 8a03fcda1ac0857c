// The Playground's page as a person uses it: the chat list, the compose boxes, the
// @mention picker, and the Adaptive Cards the bot sends. Every wait is for something on
// the page to appear (or a count to grow), never a fixed time.
import { PLAYGROUND, UI_TIMEOUT_MS } from './harness.mjs';

export class Playground {
  constructor(page) {
    this.page = page;
  }

  async ready() {
    await this.page.getByRole('treeitem', { name: 'Personal Chat' }).waitFor();
    // The log panel says so once the Playground has reached the bot's endpoint.
    await this.page.getByText('Connected.', { exact: true }).first().waitFor();
  }

  async openPersonalChat() {
    await this.page.getByRole('treeitem', { name: 'Personal Chat' }).click();
    // The personal chat's compose box sends; a channel's top box posts.
    await this.page.getByRole('button', { name: 'Send Message' }).last().waitFor();
  }

  async openChannel(name = 'General') {
    await this.page.getByRole('treeitem', { name: `My Team - ${name}` }).click();
    await this.page.getByRole('button', { name: 'Post', exact: true }).waitFor();
  }

  cards(text) {
    const all = this.page.locator('.ac-adaptiveCard');
    return text === undefined ? all : all.filter({ hasText: text });
  }

  // A channel's post (the bot's or a person's) with its thread and reply box.
  posts(text) {
    return this.page.locator('.fui-Card').filter({ hasText: text });
  }

  async countGrows(locator, before, what) {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    let delay = 100;
    for (;;) {
      const now = await locator.count();
      if (now > before) return now;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 500);
    }
  }

  async waitForText(pattern, what) {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    let delay = 100;
    for (;;) {
      if (pattern.test(await this.page.locator('body').innerText())) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 500);
    }
  }

  // Types into a compose box; `@Bot` at the start becomes a real mention through the
  // picker, as a person makes one (the Playground forwards channel messages only then).
  async compose(box, text) {
    await box.click();
    const mention = `@${PLAYGROUND.bot}`;
    if (text.startsWith(mention)) {
      await this.page.keyboard.type('@');
      await this.page.getByRole('menuitem', { name: PLAYGROUND.bot }).click();
      text = text.slice(mention.length);
    }
    await this.page.keyboard.type(text);
  }

  async sendPersonal(text) {
    await this.openPersonalChat();
    const box = this.page.getByRole('textbox').last();
    await this.compose(box, text);
    await this.page.getByRole('button', { name: 'Send Message' }).last().click();
  }

  async postInChannel(text, channel = 'General') {
    await this.openChannel(channel);
    const box = this.page.getByRole('textbox').first();
    await this.compose(box, text);
    await this.page.getByRole('button', { name: 'Post', exact: true }).click();
  }

  async replyInThread(post, text) {
    const box = post.getByRole('textbox');
    await this.compose(box, text);
    await post.getByRole('button', { name: 'Send Message' }).click();
  }

  // Fills a card's multi-line input as a person would: the card's renderer takes typed
  // input, not a value set from outside.
  async typeInto(input, text) {
    await input.click();
    await this.page.keyboard.type(text);
  }
}
