// Digilog in a real Teams client: the Microsoft 365 Agents Playground, driven headless in
// Debian's Chromium, against `digilog serve` in anonymous loopback mode. The scenarios run
// in order on one cohort, each building on the last: the Playground's one person (Alex
// Wilber) joins by button, is made a facilitator, and runs a theme.
// `make e2e` runs it; on a failure the screenshots' directory is printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Harness, PLAYGROUND, repoRoot } from './harness.mjs';
import { Playground } from './playground.mjs';

const harness = new Harness();
let ui;
let failed = false;

const THEME_1 = 'Theme 1: Why there is such a focus on digital transformation';

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

  scenario('help in the personal chat, before joining, points to join', async () => {
    await ui.sendPersonal('help');
    const help = ui.cards('Digilog commands').last();
    await help.waitFor();
    const text = await help.innerText();
    assert.match(text, /join/);
    assert.match(text, /not in a cohort here yet/);
  });

  scenario('join in the channel offers organisation buttons; one joins the cohort', async () => {
    await ui.postInChannel(`@${PLAYGROUND.bot} join`);
    await ui.openPersonalChat();
    const offer = ui.cards('Which organisation are you from?').last();
    await offer.getByRole('button', { name: 'Umeå Municipality' }).click();
    // The card that was clicked says what happened, its buttons gone.
    const welcome = ui.cards(`Welcome to Playground, ${PLAYGROUND.userName} from Umeå Municipality`);
    await welcome.last().waitFor();
    assert.equal(await welcome.last().getByRole('button').count(), 0);
    // The rest is a facilitator's: the operator makes the new participant one.
    const said = await harness.digilog(
      'cohort', 'enrol', 'playground',
      '--user-id', PLAYGROUND.user, '--org', 'umea', '--role', 'facilitator',
    );
    assert.match(said, /updated as facilitator/);
  });

  scenario("a facilitator's help lists theme start; theme start by @mention posts the theme", async () => {
    await ui.sendPersonal('help');
    await ui.cards('theme start').last().waitFor();
    assert.match(await ui.cards('Digilog commands').last().innerText(), /quiz start/);
    await ui.postInChannel(`@${PLAYGROUND.bot} theme start 1`);
    const post = ui.posts(THEME_1);
    await post.last().waitFor();
    await post.last().getByRole('button', { name: 'Write a reflection' }).waitFor();
    await ui.openPersonalChat();
    await ui.cards('Theme 1 has started and its digilog is open.').last().waitFor();
  });

  scenario('a reply in the theme thread that @mentions Digilog is a digilog post', async () => {
    await ui.openPersonalChat();
    const saved = ui.cards(/Saved in the reflection bank as #\d+\./);
    const before = await saved.count();
    await ui.openChannel();
    await ui.replyInThread(
      ui.posts(THEME_1).last(),
      `@${PLAYGROUND.bot} In our municipality the e-services grew but the back office stayed on paper.`,
    );
    await ui.openPersonalChat();
    await ui.countGrows(saved, before, 'the digilog post to be saved');
    assert.equal(await ui.cards(/I don.t know the command/).count(), 0);
  });

  scenario('the quiz, taken from the channel, runs to its result in the personal chat', async () => {
    await ui.postInChannel(`@${PLAYGROUND.bot} quiz start 1`);
    const quizPost = ui.posts('Quiz: theme 1').last();
    await quizPost.getByRole('button', { name: 'Take the quiz' }).click();
    // The channel's card is everyone's: it says where the question went, for this person.
    await quizPost.getByText('The question is in your chat with Digilog.').waitFor();
    await ui.openPersonalChat();
    const first = ui.cards('Question 1 of').last();
    await first.waitFor();
    const total = Number(/Question 1 of (\d+)/.exec(await first.innerText())[1]);
    assert.ok(total >= 2, `a quiz of ${total} questions`);
    // The card goes on in place: each answer shows above the next question's buttons.
    for (let n = 1; n <= total; n += 1) {
      const card = ui.cards(`Question ${n} of ${total}`).last();
      await card.locator('.ac-actionSet button').first().click();
      if (n < total) {
        const next = ui.cards(`Question ${n + 1} of ${total}`).last();
        await next.waitFor();
        assert.match(await next.innerText(), /Right!|Not quite/);
      }
    }
    const result = ui.cards('Your result').last();
    await result.waitFor();
    assert.match(await result.innerText(), new RegExp(`You answered \\d+ of ${total} questions`));
    // One card for the whole quiz, its last answer above the result, no button left.
    assert.match(await result.innerText(), /Right!|Not quite/);
    assert.equal(await result.locator('.ac-actionSet button').count(), 0);
    assert.equal(await ui.cards(/Question \d+ of/).count(), 0);
  });

  scenario('a reflection form is submitted once: the card then shows what was saved', async () => {
    await ui.openChannel();
    const themePost = ui.posts(THEME_1).last();
    await themePost.getByRole('button', { name: 'Write a reflection' }).click();
    await themePost.getByText('The form is in your chat with Digilog.').waitFor();
    await ui.openPersonalChat();
    const form = ui.cards('Write a reflection').last();
    await form.locator('textarea').waitFor();
    const text = 'We scanned our archive but kept the old process.';
    await ui.typeInto(form.locator('textarea'), text);
    await form.getByRole('button', { name: 'Save' }).click();
    const saved = ui.cards(/Saved in the reflection bank as #\d+, visible to only the author/);
    await saved.last().waitFor();
    assert.match(await saved.last().innerText(), new RegExp(text));
    // The form itself became the receipt: nothing left to type in or send again.
    assert.equal(await ui.cards().locator('textarea').count(), 0);
    assert.equal(await saved.last().locator('textarea, input, button').count(), 0);
  });

  scenario('mydata offers a file through the Teams file consent card', async () => {
    await ui.sendPersonal('mydata');
    // The Playground draws no file consent card, but says one came, and shows its payload.
    await ui.page.getByText('File Consent Card is not supported yet', { exact: true }).last().waitFor();
    await ui.page.getByText('message 201', { exact: true }).last().click();
    await ui.waitForText(
      /"contentType": "application\/vnd\.microsoft\.teams\.card\.file\.consent",\s*"name": "digilog-my-data-[^"]+\.zip"/,
      'the file consent card in the log panel',
    );
  });
});
