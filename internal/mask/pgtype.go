package mask

// PostgreSQL type OIDs that Value handles, from pg_type.dat. They are stable
// across PostgreSQL versions; types created by extensions (citext, hstore)
// have database-specific OIDs and are treated as opaque text.
const (
	OIDBool             uint32 = 16
	OIDBytea            uint32 = 17
	OIDChar             uint32 = 18 // "char", one byte
	OIDName             uint32 = 19
	OIDInt8             uint32 = 20
	OIDInt2             uint32 = 21
	OIDInt2Vector       uint32 = 22
	OIDInt4             uint32 = 23
	OIDRegproc          uint32 = 24
	OIDText             uint32 = 25
	OIDOID              uint32 = 26
	OIDTID              uint32 = 27
	OIDXID              uint32 = 28
	OIDCID              uint32 = 29
	OIDOIDVector        uint32 = 30
	OIDJSON             uint32 = 114
	OIDXML              uint32 = 142
	OIDXMLArray         uint32 = 143
	OIDJSONArray        uint32 = 199
	OIDPoint            uint32 = 600
	OIDLseg             uint32 = 601
	OIDPath             uint32 = 602
	OIDBox              uint32 = 603
	OIDPolygon          uint32 = 604
	OIDLine             uint32 = 628
	OIDCIDR             uint32 = 650
	OIDCIDRArray        uint32 = 651
	OIDFloat4           uint32 = 700
	OIDFloat8           uint32 = 701
	OIDUnknown          uint32 = 705
	OIDCircle           uint32 = 718
	OIDMacaddr8         uint32 = 774
	OIDMoney            uint32 = 790
	OIDMacaddr          uint32 = 829
	OIDInet             uint32 = 869
	OIDBoolArray        uint32 = 1000
	OIDByteaArray       uint32 = 1001
	OIDCharArray        uint32 = 1002
	OIDNameArray        uint32 = 1003
	OIDInt2Array        uint32 = 1005
	OIDInt4Array        uint32 = 1007
	OIDTextArray        uint32 = 1009
	OIDBPCharArray      uint32 = 1014
	OIDVarcharArray     uint32 = 1015
	OIDInt8Array        uint32 = 1016
	OIDFloat4Array      uint32 = 1021
	OIDFloat8Array      uint32 = 1022
	OIDOIDArray         uint32 = 1028
	OIDInetArray        uint32 = 1041
	OIDBPChar           uint32 = 1042
	OIDVarchar          uint32 = 1043
	OIDDate             uint32 = 1082
	OIDTime             uint32 = 1083
	OIDTimestamp        uint32 = 1114
	OIDTimestampArray   uint32 = 1115
	OIDDateArray        uint32 = 1182
	OIDTimeArray        uint32 = 1183
	OIDTimestampTZArray uint32 = 1185
	OIDTimestampTZ      uint32 = 1184
	OIDInterval         uint32 = 1186
	OIDNumericArray     uint32 = 1231
	OIDTimeTZ           uint32 = 1266
	OIDBit              uint32 = 1560
	OIDVarbit           uint32 = 1562
	OIDNumeric          uint32 = 1700
	OIDRefcursor        uint32 = 1790
	OIDRegclass         uint32 = 2205
	OIDRegtype          uint32 = 2206
	OIDRecord           uint32 = 2249
	OIDVoid             uint32 = 2278
	OIDUUID             uint32 = 2950
	OIDUUIDArray        uint32 = 2951
	OIDTSVector         uint32 = 3614
	OIDTSQuery          uint32 = 3615
	OIDJSONB            uint32 = 3802
	OIDJSONBArray       uint32 = 3807
	OIDJSONPath         uint32 = 4072
	OIDPgLSN            uint32 = 3220
	OIDInt4Range        uint32 = 3904
	OIDNumRange         uint32 = 3906
	OIDTSRange          uint32 = 3908
	OIDTSTZRange        uint32 = 3910
	OIDDateRange        uint32 = 3912
	OIDInt8Range        uint32 = 3926
	OIDXID8             uint32 = 5069
)

// Wire formats of a value, as in RowDescription and Bind.
const (
	FormatText   int16 = 0
	FormatBinary int16 = 1
)

// typeClass says how Value treats a type.
type typeClass uint8

const (
	// tcOpaque types may carry text the package cannot rewrite safely:
	// they are scanned and withheld on a hit.
	tcOpaque typeClass = iota
	// tcText: text, varchar, unknown; the bytes are the text in both formats.
	tcText
	tcBPChar
	tcName
	tcJSON
	tcJSONB
	tcUUID
	tcInet
	tcArray
	// tcOther types cannot hold free text; detectors skip them and a
	// column rule replaces them by a typed zero or derived value.
	tcOther
)

// classOf returns the class of a type OID and, for arrays, the element OID.
func classOf(oid uint32) (typeClass, uint32) {
	switch oid {
	case OIDText, OIDVarchar, OIDUnknown:
		return tcText, 0
	case OIDBPChar:
		return tcBPChar, 0
	case OIDName:
		return tcName, 0
	case OIDJSON:
		return tcJSON, 0
	case OIDJSONB:
		return tcJSONB, 0
	case OIDUUID:
		return tcUUID, 0
	case OIDInet, OIDCIDR:
		return tcInet, 0
	case OIDXML, OIDRecord, OIDTSVector, OIDTSQuery, OIDRefcursor, OIDJSONPath:
		return tcOpaque, 0
	case OIDBool, OIDBytea, OIDChar, OIDInt8, OIDInt2, OIDInt2Vector, OIDInt4, OIDRegproc,
		OIDOID, OIDTID, OIDXID, OIDCID, OIDOIDVector, OIDPoint, OIDLseg, OIDPath, OIDBox,
		OIDPolygon, OIDLine, OIDFloat4, OIDFloat8, OIDCircle, OIDMacaddr8, OIDMoney,
		OIDMacaddr, OIDDate, OIDTime, OIDTimestamp, OIDTimestampTZ, OIDInterval, OIDTimeTZ,
		OIDBit, OIDVarbit, OIDNumeric, OIDRegclass, OIDRegtype, OIDVoid, OIDPgLSN,
		OIDInt4Range, OIDNumRange, OIDTSRange, OIDTSTZRange, OIDDateRange, OIDInt8Range, OIDXID8:
		return tcOther, 0
	}
	if el := arrayElem(oid); el != 0 {
		return tcArray, el
	}
	return tcOpaque, 0
}

// arrayElem returns the element type of a known array type, or 0.
func arrayElem(oid uint32) uint32 {
	switch oid {
	case OIDTextArray:
		return OIDText
	case OIDVarcharArray:
		return OIDVarchar
	case OIDBPCharArray:
		return OIDBPChar
	case OIDNameArray:
		return OIDName
	case OIDJSONArray:
		return OIDJSON
	case OIDJSONBArray:
		return OIDJSONB
	case OIDUUIDArray:
		return OIDUUID
	case OIDXMLArray:
		return OIDXML
	case OIDInetArray:
		return OIDInet
	case OIDCIDRArray:
		return OIDCIDR
	case OIDBoolArray:
		return OIDBool
	case OIDByteaArray:
		return OIDBytea
	case OIDCharArray:
		return OIDChar
	case OIDInt2Array:
		return OIDInt2
	case OIDInt4Array:
		return OIDInt4
	case OIDInt8Array:
		return OIDInt8
	case OIDFloat4Array:
		return OIDFloat4
	case OIDFloat8Array:
		return OIDFloat8
	case OIDOIDArray:
		return OIDOID
	case OIDNumericArray:
		return OIDNumeric
	case OIDDateArray:
		return OIDDate
	case OIDTimeArray:
		return OIDTime
	case OIDTimestampArray:
		return OIDTimestamp
	case OIDTimestampTZArray:
		return OIDTimestampTZ
	}
	return 0
}
