package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// qrQuiet is the quiet zone around a QR code, in modules: the four the
// standard asks for, without which some phone cameras do not find it.
const qrQuiet = 4

// qrScale is the size of one module in pixels. An otpauth URI makes a
// code of about 45 modules, so the image is about 400 pixels wide: sharp
// on a high-density screen, and CSS shows it smaller.
const qrScale = 8

// qrDataURL returns content as a QR code in a PNG data: URL, for an <img>
// (the Content-Security-Policy allows data: images and nothing inline
// else). The code is drawn here, on the server: the secret it holds goes
// to no other service.
func qrDataURL(content string) (template.URL, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("web: qr code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	size := (n + 2*qrQuiet) * qrScale
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if c := color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray); c.Y < 128 {
				for dy := range qrScale {
					for dx := range qrScale {
						img.SetColorIndex((x+qrQuiet)*qrScale+dx, (y+qrQuiet)*qrScale+dy, 1)
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("web: qr png: %w", err)
	}
	// The URL is built from base64 alone: nothing in it can break out of
	// the attribute, which is why it may be a template.URL.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}
