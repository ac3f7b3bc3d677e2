// The corrected form of plivo_dial_status.js: its action route answers an empty
// Plivo XML document instead of plain text, so the call ends normally after the
// report. Everything else as there. Seed "Dial status reporting" (Plivo, Node.js):
// https://docs.plivo.com/docs/voice/use-cases/dial-status-reporting/node
// Re-created in our own words: an Express answer server whose first route forwards
// the call with <Dial action=... method="POST" redirect="true"><Number/></Dial>,
// and whose action route logs how the dial ended (DialStatus, DialALegUUID,
// DialBLegUUID).
// Only the port and the public address of this server come from the environment
// (tests/seeds sets PORT and BASE_URL); the guide has https://<yourdomain>.com.
var plivo = require('plivo');
var express = require('express');
var app = express();
app.use(express.urlencoded({ extended: true }));
app.set('port', process.env.PORT || 5000);
var baseUrl = process.env.BASE_URL || 'https://example.com';

app.all('/dialstatus/', function (request, response) {
    var r = plivo.Response();
    var dial = r.addDial({
        action: baseUrl + '/dialstatus/action/',
        method: 'POST',
        redirect: 'true',
    });
    dial.addNumber('15557654321');
    console.log(r.toXML());
    response.set({ 'Content-Type': 'text/xml' });
    response.end(r.toXML());
});

app.all('/dialstatus/action/', function (request, response) {
    var status = request.body.DialStatus || request.query.DialStatus;
    var aleg = request.body.DialALegUUID || request.query.DialALegUUID;
    var bleg = request.body.DialBLegUUID || request.query.DialBLegUUID;
    console.log('Status : ' + status + ' Aleg UUID : ' + aleg + ' Bleg UUID : ' + bleg);
    var r = plivo.Response();
    response.set({ 'Content-Type': 'text/xml' });
    response.end(r.toXML());
});

app.listen(app.get('port'), function () {
    console.log('Node app is running on port', app.get('port'));
});
