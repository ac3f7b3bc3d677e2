// Seed "Screen incoming calls" (Plivo, Node.js, the XML tab):
// https://plivo.com/docs/voice/use-cases/screen-incoming-calls/node
// Re-created in our own words: an Express answer server that reads the caller's
// number (From) and refuses it with <Hangup reason="rejected"/> when it is on a
// blocklist or comes from a blocked country code; any other caller hears a greeting.
// Only the port comes from the environment (tests/seeds sets PORT).
var plivo = require('plivo');
var express = require('express');
var app = express();
app.use(express.urlencoded({ extended: true }));
app.set('port', process.env.PORT || 5000);

var blockedNumbers = ['12025551234', '12025559876'];
var blockedCountryCodes = ['44', '91'];

app.all('/screen/', function (request, response) {
    var fromNumber = request.body.From || request.query.From;
    var r = plivo.Response();
    var blocked = blockedNumbers.includes(fromNumber) ||
        blockedCountryCodes.some(function (code) { return fromNumber.startsWith(code); });
    if (blocked) {
        r.addHangup({ reason: 'rejected' });
    } else {
        r.addSpeak('Welcome.');
    }
    console.log(r.toXML());
    response.set({ 'Content-Type': 'text/xml' });
    response.end(r.toXML());
});

app.listen(app.get('port'), function () {
    console.log('Node app is running on port', app.get('port'));
});
