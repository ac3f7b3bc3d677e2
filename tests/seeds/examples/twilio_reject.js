// Seed "Reject an incoming call" (Twilio how-to, a blocklist with <Reject>):
// https://www.twilio.com/docs/howto/reject (written for Sinatra there) and the Node
// sample of https://www.twilio.com/docs/voice/twiml/reject (VoiceResponse().reject()).
// Re-created in our own words as the Node/Express app they describe: calls from the
// blocklisted numbers are rejected, everyone else is answered with <Say>.
// Only the port comes from the environment (tests/seeds sets PORT).
const express = require('express');
const VoiceResponse = require('twilio').twiml.VoiceResponse;

const app = express();
app.use(express.urlencoded({ extended: false }));

const blocklist = ['+14155554345', '+16105557069'];

app.post('/reject', (req, res) => {
  const response = new VoiceResponse();
  if (blocklist.includes(req.body.From)) {
    response.reject();
  } else {
    response.say('You got through.');
  }
  res.type('text/xml');
  res.send(response.toString());
});

const port = process.env.PORT || 3000;
app.listen(port, () => console.log(`Node app is running on port ${port}`));
