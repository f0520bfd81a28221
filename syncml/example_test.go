package syncml_test

import (
	"fmt"

	"github.com/hellomdm/hellomdm/syncml"
)

// A server parses a client's first message and answers it: a Status for the header and for
// each command, then a command of its own, then Final.
func Example() {
	body := []byte(`<SyncML xmlns="SYNCML:SYNCML1.2">
<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>0</SessionID><MsgID>1</MsgID>
<Target><LocURI>https://mdm.example.com/ManagementServer/MDM.svc</LocURI></Target>
<Source><LocURI>B5B954E8</LocURI></Source></SyncHdr>
<SyncBody>
<Alert><CmdID>2</CmdID><Data>1201</Data></Alert>
<Alert><CmdID>3</CmdID><Data>1224</Data><Item><Meta><Type xmlns="syncml:metinf">com.microsoft/MDM/LoginStatus</Type></Meta><Data>user</Data></Item></Alert>
<Final/>
</SyncBody></SyncML>`)

	msg, err := syncml.Parse(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range msg.Commands(syncml.VerbAlert) {
		code, _ := c.AlertCode()
		if t := c.AlertType(); t != "" {
			fmt.Println("alert", code, t)
		} else {
			fmt.Println("alert", code)
		}
	}

	b := syncml.NewBuilder(syncml.ReplyHeader(msg.Header, "1"), 1)
	b.StatusSyncHdr(msg.Header.MsgID, syncml.StatusOK, nil)
	for _, c := range msg.Body {
		b.Status(msg.Header.MsgID, c, syncml.StatusOK)
	}
	get := syncml.Command{Verb: syncml.VerbGet, Items: []syncml.Item{{Target: "./DevDetail/SwV"}}}
	if b.Size(true)+b.CommandSize(get) <= 64*1024 {
		fmt.Println("Get is CmdID", b.Command(get))
	}
	out, err := b.Bytes(true)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(out) == b.Size(true))
	fmt.Println(string(out))
	// Output:
	// alert 1201
	// alert 1224 com.microsoft/MDM/LoginStatus
	// Get is CmdID 4
	// true
	// <SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>0</SessionID><MsgID>1</MsgID><Target><LocURI>B5B954E8</LocURI></Target><Source><LocURI>https://mdm.example.com/ManagementServer/MDM.svc</LocURI></Source></SyncHdr><SyncBody><Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status><Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status><Status><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>3</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status><Get><CmdID>4</CmdID><Item><Target><LocURI>./DevDetail/SwV</LocURI></Target></Item></Get><Final/></SyncBody></SyncML>
}
