// Digilog in a real Teams client: the Microsoft 365 Agents Playground, driven headless in
// Debian's Chromium, against `digilog serve` in anonymous loopback mode. The scenarios run
// in order on one cohort, as one facilitator would try Digilog: each builds on the last.
// `make e2e` runs it; on a failure the screenshots' directory is printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Harness, PLAYGROUND, repoRoot } from './harness.mjs';
import { Playground } from './playground.mjs';

const harness = new Harness();
let ui;
let failed = false;

// Each scenario leaves a screenshot of the page as it failed, and the servers' logs.
function scenario(name, body) {
  it(name, { timeout: 10 * 60_000 }, async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      const shot = await harness.screenshot(name);
      console.error(
        `e2e: "${name}" failed; screenshot ${shot ?? '(none)'}; ` +
          `logs in ${harness.workDir} (digilog.log, playground.log)`,
      );
      throw error;
    }
  });
}

describe('Digilog in the Microsoft 365 Agents Playground', () => {
  before(async () => {
    console.log(`e2e: work directory ${harness.workDir}; screenshots go to ${harness.shotsDir}`);
    try {
      await harness.digilog('program', 'load', `${repoRoot}/examples/digital-kompetens.yaml`);
      await harness.digilog(
        'cohort', 'create', 'playground',
        '--program', 'digital-kompetens', '--title', 'Playground',
        '--platform', 'teams', '--workspace', PLAYGROUND.tenant,
        '--conversation', PLAYGROUND.channel, '--language', 'en', '--self-enrol',
      );
      await harness.digilog(
        'cohort', 'enrol', 'playground',
        '--user-id', PLAYGROUND.user, '--name', PLAYGROUND.userName,
        '--org', 'region-vasterbotten', '--role', 'facilitator',
      );
      await harness.startDigilog();
      await harness.startPlayground();
      await harness.openBrowser();
      ui = new Playground(harness.page);
      await ui.ready();
    } catch (error) {
      failed = true;
      const shot = await harness.screenshot('start');
      console.error(`e2e: could not start; screenshot ${shot ?? '(none)'}; logs in ${harness.workDir}`);
      throw error;
    }
  });

  after(async () => {
    await harness.stop();
    // What a failure leaves (screenshots, logs, the database) stays for reading.
    if (!failed) harness.removeWorkDir();
  });

  scenario('help in the personal chat lists the commands', async () => {
    await ui.sendPersonal('help');
    await ui.cards('Digilog commands').last().waitFor();
    const text = await ui.cards('Digilog commands').last().innerText();
    assert.match(text, /theme start/);
    assert.match(text, /quiz start/);
  });

  scenario('theme start by @mention posts the theme in the channel', async () => {
    await ui.postInChannel(`@${PLAYGROUND.bot} theme start 1`);
    const post = ui.posts('Theme 1: Why there is such a focus on digital transformation');
    await post.last().waitFor();
    await post.last().getByRole('button', { name: 'Write a reflection' }).waitFor();
    await ui.openPersonalChat();
    await ui.cards('Theme 1 has started and its digilog is open.').last().waitFor();
  });

  scenario('the quiz, taken from the channel, runs to its result in the personal chat', async () => {
    await ui.postInChannel(`@${PLAYGROUND.bot} quiz start 1`);
    const quizPost = ui.posts('Quiz: theme 1').last();
    await quizPost.getByRole('button', { name: 'Take the quiz' }).click();
    await ui.openPersonalChat();
    const first = ui.cards('Question 1 of').last();
    await first.waitFor();
    const total = Number(/Question 1 of (\d+)/.exec(await first.innerText())[1]);
    assert.ok(total >= 2, `a quiz of ${total} questions`);
    for (let n = 1; n <= total; n += 1) {
      // The question's own card: its answer buttons are the last action set in it.
      const card = ui.cards(`Question ${n} of ${total}`).last();
      await card.locator('.ac-actionSet button').first().click();
    }
    const result = ui.cards('Your result').last();
    await result.waitFor();
    assert.match(await result.innerText(), new RegExp(`You answered \\d+ of ${total} questions`));
  });

  scenario('a reflection form from the theme card is saved in the bank', async () => {
    await ui.openChannel();
    const themePost = ui.posts('Theme 1: Why there is such a focus on digital transformation').last();
    await themePost.getByRole('button', { name: 'Write a reflection' }).click();
    await ui.openPersonalChat();
    const form = ui.cards('Write a reflection').last();
    await form.locator('textarea').waitFor();
    await ui.typeInto(form.locator('textarea'), 'We scanned our archive but kept the old process.');
    await form.getByRole('button', { name: 'Save' }).click();
    await ui.cards(/Saved in the reflection bank as #\d+/).last().waitFor();
  });
});
