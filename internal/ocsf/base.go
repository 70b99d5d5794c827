package ocsf

// class names one OCSF event class and the category it belongs to.
type class struct {
	uid          int
	name         string
	categoryUID  int
	categoryName string
}

// The event classes sluice records map to.
var (
	classBase           = class{0, "Base Event", 0, "Uncategorized"}
	classAuthentication = class{3002, "Authentication", 3, "Identity & Access Management"}
	classAPIActivity    = class{6003, "API Activity", 6, "Application Activity"}
	classDatastore      = class{6005, "Datastore Activity", 6, "Application Activity"}
)

// activity is an activity_id of a class with its caption.
type activity struct {
	id   int
	name string
}

// The activities every class has.
var (
	activityUnknown = activity{0, "Unknown"}
	activityOther   = activity{99, "Other"}
)

// Severity ids (severity_id). The captions are in severityNames.
const (
	sevUnknown       = 0
	sevInformational = 1
	sevLow           = 2
	sevMedium        = 3
	sevHigh          = 4
)

var severityNames = map[int]string{
	0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High",
	5: "Critical", 6: "Fatal", 99: "Other",
}

// Status ids (status_id).
const (
	statusUnknown = 0
	statusSuccess = 1
	statusFailure = 2
	statusOther   = 99
)

var statusNames = map[int]string{0: "Unknown", 1: "Success", 2: "Failure", 99: "Other"}

// Action ids (action_id, security_control profile).
const (
	actionUnknown = 0
	actionAllowed = 1
	actionDenied  = 2
)

var actionNames = map[int]string{0: "Unknown", 1: "Allowed", 2: "Denied", 3: "Observed", 4: "Modified", 99: "Other"}

// Disposition ids (disposition_id, security_control profile): the subset
// sluice uses of the OCSF 1.4 enum.
const (
	dispUnknown  = 0
	dispAllowed  = 1
	dispBlocked  = 2
	dispApproved = 8
	dispDelayed  = 14
	dispOther    = 99
)

var dispositionNames = map[int]string{
	0: "Unknown", 1: "Allowed", 2: "Blocked", 8: "Approved", 14: "Delayed", 99: "Other",
}

// base holds the attributes every OCSF event has (base_event), plus the
// security_control profile that OCSF 1.4 applies to every class. Each class
// embeds it first, so these attributes lead the encoded object.
type base struct {
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	// Time is the record's time in milliseconds since the epoch.
	Time       int64  `json:"time"`
	SeverityID int    `json:"severity_id"`
	Severity   string `json:"severity"`
	StatusID   int    `json:"status_id"`
	Status     string `json:"status"`
	// StatusCode is the SQLSTATE or HTTP status; StatusDetail says in
	// words why the event ended as it did.
	StatusCode   string `json:"status_code,omitempty"`
	StatusDetail string `json:"status_detail,omitempty"`
	Message      string `json:"message,omitempty"`
	// Duration is in milliseconds; it is set for results only.
	Duration *int64 `json:"duration,omitempty"`

	// The security_control profile: what the gate did.
	ActionID      int     `json:"action_id,omitempty"`
	Action        string  `json:"action,omitempty"`
	DispositionID int     `json:"disposition_id,omitempty"`
	Disposition   string  `json:"disposition,omitempty"`
	Policy        *policy `json:"policy,omitempty"`

	Metadata metadata       `json:"metadata"`
	Unmapped map[string]any `json:"unmapped,omitempty"`
}

// setClass sets the class, category and activity attributes, and type_uid
// as OCSF defines it: class_uid*100 + activity_id.
func (b *base) setClass(c class, a activity) {
	b.ClassUID, b.ClassName = c.uid, c.name
	b.CategoryUID, b.CategoryName = c.categoryUID, c.categoryName
	b.ActivityID, b.ActivityName = a.id, a.name
	b.TypeUID = c.uid*100 + a.id
	b.TypeName = c.name + ": " + a.name
}

func (b *base) setSeverity(id int) {
	b.SeverityID, b.Severity = id, severityNames[id]
}

func (b *base) setStatus(id int, code, detail string) {
	b.StatusID, b.Status = id, statusNames[id]
	b.StatusCode, b.StatusDetail = code, oneLine(detail, maxDetail)
}

// setVerdict sets action_id and disposition_id, and declares the
// security_control profile in the metadata. Zero ids leave both unset.
func (b *base) setVerdict(action, disposition int, dispositionName string) {
	if action == actionUnknown && disposition == dispUnknown {
		return
	}
	b.ActionID, b.Action = action, actionNames[action]
	b.DispositionID, b.Disposition = disposition, dispositionNames[disposition]
	if dispositionName != "" {
		b.Disposition = dispositionName
	}
	b.Metadata.Profiles = append(b.Metadata.Profiles, "security_control")
}

// unmap adds v to the unmapped attributes under key unless v is empty.
func (b *base) unmap(key string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case []string:
		if len(x) == 0 {
			return
		}
	case int:
		if x == 0 {
			return
		}
	case int64:
		if x == 0 {
			return
		}
	case uint32:
		if x == 0 {
			return
		}
	case bool:
		if !x {
			return
		}
	case map[string]uint64:
		if len(x) == 0 {
			return
		}
	case map[string]string:
		if len(x) == 0 {
			return
		}
	}
	b.set(key, v)
}

// set adds v to the unmapped attributes under key, even if it is empty.
func (b *base) set(key string, v any) {
	if b.Unmapped == nil {
		b.Unmapped = map[string]any{}
	}
	b.Unmapped[key] = v
}
