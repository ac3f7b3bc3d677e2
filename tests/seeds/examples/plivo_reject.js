// Seed "Reject incoming calls" (Plivo, Node.js, the XML tab):
// https://www.plivo.com/docs/voice/use-cases/reject-incoming-calls/node/
// Re-created in our own words: an Express answer server whose route answers every
// call with a Plivo XML <Hangup reason="rejected"/> built by the plivo SDK.
// Only the port comes from the environment (tests/seeds sets PORT).
var plivo = require('plivo');
var express = require('express');
var app = express();
app.use(express.urlencoded({ extended: true }));
app.set('port', process.env.PORT || 5000);

app.all('/reject/', function (request, response) {
    var r = plivo.Response();
    r.addHangup({ reason: 'rejected' });
    console.log(r.toXML());
    response.set({ 'Content-Type': 'text/xml' });
    response.end(r.toXML());
});

app.listen(app.get('port'), function () {
    console.log('Node app is running on port', app.get('port'));
});
