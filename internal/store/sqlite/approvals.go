package sqlite

import (
	"context"
	"time"

	"gatehouse/internal/approval"
)

const approvalCols = `id, user_id, account_id, kind, details, hash, nonce, requested_by, status, created_at, expires_at, decided_at, factor_id, factor_kind, aal, used_at`

func scanApproval(row interface{ Scan(...any) error }) (*approval.Approval, error) {
	var a approval.Approval
	var created, expires, decided, used int64
	if err := row.Scan(&a.ID, &a.UserID, &a.AccountID, &a.Kind, &a.Details, &a.Hash, &a.Nonce, &a.RequestedBy, &a.Status,
		&created, &expires, &decided, &a.FactorID, &a.FactorKind, &a.AAL, &used); err != nil {
		return nil, mapErr(err)
	}
	a.CreatedAt, a.ExpiresAt, a.DecidedAt, a.UsedAt = tm(created), tm(expires), tm(decided), tm(used)
	return &a, nil
}

func (q *conn) CreateApproval(ctx context.Context, a *approval.Approval) error {
	_, err := q.x.ExecContext(ctx, `INSERT INTO approvals (`+approvalCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.UserID, a.AccountID, a.Kind, a.Details, a.Hash, a.Nonce, a.RequestedBy, a.Status,
		us(a.CreatedAt), us(a.ExpiresAt), us(a.DecidedAt), a.FactorID, a.FactorKind, a.AAL, us(a.UsedAt))
	return mapErr(err)
}

func (q *conn) ApprovalByID(ctx context.Context, id string) (*approval.Approval, error) {
	return scanApproval(q.x.QueryRowContext(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id))
}

func (q *conn) PendingApprovals(ctx context.Context, userID string, now time.Time) ([]*approval.Approval, error) {
	rows, err := q.x.QueryContext(ctx, `SELECT `+approvalCols+` FROM approvals WHERE user_id = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at, id`, userID, us(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*approval.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (q *conn) DecideApproval(ctx context.Context, id string, status approval.Status, factorID, factorKind string, aal int, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE approvals SET status = ?, decided_at = ?, factor_id = ?, factor_kind = ?, aal = ? WHERE id = ? AND status = 'pending' AND expires_at > ?`,
		status, us(now), factorID, factorKind, aal, id, us(now))
	return affected(res, err)
}

func (q *conn) UseApproval(ctx context.Context, id string, now time.Time) error {
	res, err := q.x.ExecContext(ctx, `UPDATE approvals SET status = 'used', used_at = ? WHERE id = ? AND status = 'approved'`, us(now), id)
	return affected(res, err)
}
