package postgres

import (
	"context"
	"time"

	"gatehouse/internal/approval"
)

const approvalCols = `id, user_id, account_id, kind, details, hash, nonce, requested_by, status, created_at, expires_at, decided_at, factor_id, factor_kind, aal, used_at`

func scanApproval(row scanner) (*approval.Approval, error) {
	var a approval.Approval
	var created, expires, decided, used time.Time
	if err := row.Scan(&a.ID, &a.UserID, &a.AccountID, &a.Kind, &a.Details, &a.Hash, &a.Nonce, &a.RequestedBy, &a.Status,
		&created, &expires, &decided, &a.FactorID, &a.FactorKind, &a.AAL, &used); err != nil {
		return nil, mapErr(err)
	}
	a.CreatedAt, a.ExpiresAt, a.DecidedAt, a.UsedAt = tm(created), tm(expires), tm(decided), tm(used)
	return &a, nil
}

func (q *conn) CreateApproval(ctx context.Context, a *approval.Approval) error {
	return q.write(ctx, `INSERT INTO approvals (`+approvalCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		a.ID, a.UserID, a.AccountID, string(a.Kind), a.Details, a.Hash, a.Nonce, a.RequestedBy, string(a.Status),
		ts(a.CreatedAt), ts(a.ExpiresAt), ts(a.DecidedAt), a.FactorID, a.FactorKind, a.AAL, ts(a.UsedAt))
}

func (q *conn) ApprovalByID(ctx context.Context, id string) (*approval.Approval, error) {
	return scanApproval(q.x.QueryRow(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = $1`, id))
}

func (q *conn) PendingApprovals(ctx context.Context, userID string, now time.Time) ([]*approval.Approval, error) {
	rows, err := q.x.Query(ctx, `SELECT `+approvalCols+` FROM approvals WHERE user_id = $1 AND status = 'pending' AND expires_at > $2 ORDER BY created_at, id`, userID, ts(now))
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
	res, err := q.x.Exec(ctx, `UPDATE approvals SET status = $1, decided_at = $2, factor_id = $3, factor_kind = $4, aal = $5 WHERE id = $6 AND status = 'pending' AND expires_at > $2`,
		string(status), ts(now), factorID, factorKind, aal, id)
	return affected(res, err)
}

func (q *conn) UseApproval(ctx context.Context, id string, now time.Time) error {
	res, err := q.x.Exec(ctx, `UPDATE approvals SET status = 'used', used_at = $1 WHERE id = $2 AND status = 'approved'`, ts(now), id)
	return affected(res, err)
}
