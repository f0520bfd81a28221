package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Intune @odata.type of each profile shape (Microsoft Graph beta).
const (
	odataCatalog = "#microsoft.graph.deviceManagementConfigurationPolicy"
	odataCustom  = "#microsoft.graph.windows10CustomConfiguration"
)

var serverOwned = []string{"id", "version", "createdDateTime", "lastModifiedDateTime", "settingCount", "@odata.context"}

// sameProfileJSON compares two Intune documents semantically: key order, whitespace and
// server-owned properties do not count, and no roleScopeTagIds means ["0"] (Default).
func sameProfileJSON(a, b []byte) (bool, error) {
	na, err := normalizeProfile(a)
	if err != nil {
		return false, err
	}
	nb, err := normalizeProfile(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(na, nb), nil
}

func normalizeProfile(raw []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decoding profile JSON: %w", err)
	}
	for _, k := range serverOwned {
		delete(m, k)
	}
	if tags, ok := m["roleScopeTagIds"].([]any); !ok || len(tags) == 0 {
		m["roleScopeTagIds"] = []any{"0"}
	}
	return m, nil
}

// RouteOf tells the API route of an Intune document from its @odata.type (or, without one,
// settings vs omaSettings).
func RouteOf(doc map[string]any) (string, error) {
	typ, _ := doc["@odata.type"].(string)
	_, hasSettings := doc["settings"]
	_, hasOMA := doc["omaSettings"]
	switch {
	case strings.EqualFold(typ, odataCatalog), typ == "" && hasSettings && !hasOMA:
		return "configurationPolicies", nil
	case strings.EqualFold(typ, odataCustom), typ == "" && hasOMA && !hasSettings:
		return "deviceConfigurations", nil
	case typ != "":
		return "", fmt.Errorf("@odata.type %s is neither a settings catalog policy (%s) nor a custom OMA-URI profile (%s)", typ, odataCatalog, odataCustom)
	}
	return "", errors.New("not an Intune profile export: no @odata.type, settings or omaSettings")
}

// profileDocument reads an Intune export, names it and tells its route.
func profileDocument(raw []byte, name string) (DesiredProfile, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return DesiredProfile{}, fmt.Errorf("decoding Intune JSON: %w", err)
	}
	route, err := RouteOf(doc)
	if err != nil {
		return DesiredProfile{}, err
	}
	if name != "" {
		if route == "configurationPolicies" {
			doc["name"] = name
		} else {
			doc["displayName"] = name
		}
	} else if route == "configurationPolicies" {
		name, _ = doc["name"].(string)
	} else {
		name, _ = doc["displayName"].(string)
	}
	if strings.TrimSpace(name) == "" {
		return DesiredProfile{}, errors.New("the profile has no name")
	}
	for _, k := range serverOwned {
		delete(doc, k)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return DesiredProfile{}, err
	}
	return DesiredProfile{Name: name, Route: route, JSON: out}, nil
}

// Load reads a file or a directory of policy documents into the desired state.
//
// A Profile's file: is resolved relative to the document that names it and must stay inside
// the root: the directory given to -f, or the directory of the file given to -f. Paths that
// leave it (../x, an absolute path elsewhere, or a symlink that points outside) are refused
// before anything is read, and the file is then read through an os.Root on that directory,
// so a symlink swapped in after the check cannot escape either.
