// Seed "VoXML Reject" (TryVox), its blocklist use case:
// https://docs.tryvox.io/voxml/reject
// Re-created in our own words: a webhook that answers a blocked caller with a VoXML
// JSON document rejecting the call, and anyone else with Say then Hangup.
// VoXML's webhook carries Callplane's (Plivo's) parameters: From is the caller's
// number without "+", so the blocklist holds numbers in that form.
// Only the port comes from the environment (tests/seeds sets PORT).
const express = require('express');

const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(express.json());

const blocked = new Set(['13105550199']);
const isNumberBlocked = (number) => blocked.has(number);

app.post('/voice', (req, res) => {
  const callData = req.body;
  if (isNumberBlocked(callData.From || callData.from)) {
    return res.json({
      voxml_version: '1.0',
      instructions: [{ verb: 'Reject', reason: 'rejected' }],
    });
  }
  return res.json({
    voxml_version: '1.0',
    instructions: [
      { verb: 'Say', text: 'Hello.' },
      { verb: 'Hangup' },
    ],
  });
});

const port = process.env.PORT || 3000;
app.listen(port, () => console.log(`Node app is running on port ${port}`));
