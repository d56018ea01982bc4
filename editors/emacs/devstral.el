;;; devstral.el --- Devstral Small in Emacs through eglot and devstral-lsp  -*- lexical-binding: t; -*-

;; Usage (init.el):
;;   (add-to-list 'load-path "/path/to/devstral-lsp/editors/emacs")
;;   (require 'devstral)
;;   (devstral-setup)                       ; registers devstral-lsp with eglot
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Then: M-x completion-at-point (or company/corfu) for suggestions, M-x eglot-code-actions for
;; "Fix with Devstral", "Add docstring", ..., M-x devstral-rewrite on a region and
;; M-x devstral-edit-workspace for an edit across files.  Works with eglot 1.9 (Debian's
;; elpa-eglot, Emacs 28) and the eglot built into Emacs 29+.

;;; Code:

(require 'eglot)
(require 'project)

(defgroup devstral nil
  "Devstral Small through the devstral-lsp language server."
  :group 'tools
  :prefix "devstral-")

(defcustom devstral-server-command '("devstral-lsp")
  "Command that starts devstral-lsp over stdio.
Add \"--log-file\" \"/tmp/devstral.log\" \"-v\" to debug."
  :type '(repeat string))

(defcustom devstral-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    tsx-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode c-mode c-ts-mode c++-mode
    c++-ts-mode java-mode java-ts-mode ruby-mode ruby-ts-mode sh-mode bash-ts-mode
    lua-mode emacs-lisp-mode)
  "Major modes whose buffers eglot connects to devstral-lsp.
eglot manages a buffer with one server, so a mode listed here uses devstral-lsp
instead of its usual language server."
  :type '(repeat symbol))

(defcustom devstral-initialization-options nil
  "Server settings sent as initializationOptions, a plist with camelCase keys.
For example (:provider \"ollama\" :model \"devstral\" :completionItems \"always\").
Keep the API key in the environment (MISTRAL_API_KEY or DEVSTRAL_API_KEY)."
  :type 'plist)

(defun devstral--contact ()
  "The eglot contact for devstral-lsp."
  (append devstral-server-command
          (when devstral-initialization-options
            (list :initializationOptions devstral-initialization-options))))

;;;###autoload
(defun devstral-setup ()
  "Register devstral-lsp with eglot for `devstral-modes'."
  (interactive)
  (setq eglot-server-programs
        (cl-remove-if (lambda (entry) (eq (cdr entry) #'devstral--contact-function))
                      eglot-server-programs))
  (push (cons devstral-modes #'devstral--contact-function) eglot-server-programs))

(defun devstral--contact-function (&optional _interactive)
  "Contact function for `eglot-server-programs'."
  (devstral--contact))

(defun devstral--server ()
  (or (eglot-current-server)
      (user-error "No eglot server here: M-x eglot first")))

(defun devstral--range (beg end)
  (list :start (eglot--pos-to-lsp-position beg)
        :end (eglot--pos-to-lsp-position end)))

(defun devstral--execute (command argument)
  "Ask the server to run COMMAND with the single ARGUMENT (a plist)."
  (eglot-execute-command (devstral--server) command (vector argument)))

;;;###autoload
(defun devstral-rewrite (beg end instruction)
  "Rewrite the region (or the current line) between BEG and END by INSTRUCTION."
  (interactive
   (let ((bounds (if (use-region-p)
                     (list (region-beginning) (region-end))
                   (list (line-beginning-position) (line-end-position)))))
     (append bounds (list (read-string "Devstral rewrite: ")))))
  (devstral--execute 'devstral.rewrite
                     (list :uri (eglot--path-to-uri (buffer-file-name))
                           :range (devstral--range beg end)
                           :instruction instruction)))

;;;###autoload
(defun devstral-edit-workspace (instruction)
  "Ask Devstral for an edit across files by INSTRUCTION; applied as one workspace edit."
  (interactive (list (read-string "Devstral edit (across files): ")))
  (devstral--execute 'devstral.editWorkspace
                     (append (list :instruction instruction)
                             (when (buffer-file-name)
                               (list :uri (eglot--path-to-uri (buffer-file-name))))
                             (when (use-region-p)
                               (list :range (devstral--range (region-beginning)
                                                             (region-end)))))))

;;;###autoload
(defun devstral-show-log ()
  "Show the eglot events buffer (the server's log messages and the LSP traffic)."
  (interactive)
  (eglot-events-buffer (devstral--server)))

(provide 'devstral)
;;; devstral.el ends here
