package httpapi

import (
	"context"
	"net/http"

	"gatehouse/internal/device"
	"gatehouse/internal/login"
)

func handleListDevices(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		ds, err := d.login.OwnDevices(r.Context(), a)
		if err != nil {
			return err
		}
		out := struct {
			Devices []deviceView `json:"devices"`
		}{Devices: []deviceView{}}
		for _, x := range ds {
			out.Devices = append(out.Devices, deviceView{ID: x.ID, Name: x.Name, Interface: x.Interface, Status: string(x.Status),
				Current: x.ID == a.Session.DeviceID, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt})
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func handleApproveDevice(d sessionDeps, svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		dev, err := svc.ApproveDevice(r.Context(), s, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"device": dev.ID, "status": string(dev.Status)})
	}
}

type linkRequest struct {
	Token string `json:"token"`
}

func (b linkRequest) Valid(context.Context) []FieldError {
	if b.Token == "" || len(b.Token) > 128 {
		return []FieldError{{"token", "required; the token from the e-mailed link"}}
	}
	return nil
}

func handleApproveDeviceLink(svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := decode[linkRequest](w, r)
		if err != nil {
			return err
		}
		dev, err := svc.ApproveDeviceByLink(r.Context(), body.Token)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"device": dev.ID, "status": string(device.Trusted)})
	}
}

func handleRevokeDevice(d sessionDeps, svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		ended, err := svc.RevokeDevice(r.Context(), s, r.PathValue("id"))
		if err != nil {
			return err
		}
		d.auth.Sessions.Forget(ended...)
		return writeJSON(w, http.StatusOK, map[string]any{"status": "revoked", "sessions_ended": len(ended)})
	}
}
